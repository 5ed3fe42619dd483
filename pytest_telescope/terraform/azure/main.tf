provider "azurerm" {
  features {}
}

locals {
  node_pools = { for pool in var.node_pools : pool.name => pool }
}

resource "azurerm_resource_group" "this" {
  name     = "rg-${var.cluster_name}"
  location = var.region
  tags     = local.tags
}

resource "azurerm_kubernetes_cluster" "this" {
  name                = var.cluster_name
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  dns_prefix          = var.cluster_name
  kubernetes_version  = var.kubernetes_version
  sku_tier            = var.sku_tier
  tags                = local.tags

  default_node_pool {
    name                         = "system"
    vm_size                      = var.system_pool.machine_size
    node_count                   = var.system_pool.count
    zones                        = length(var.system_pool.zones) > 0 ? var.system_pool.zones : null
    node_labels                  = var.system_pool.labels
    only_critical_addons_enabled = var.system_pool.critical_addons_only
    os_disk_size_gb              = var.system_pool.os_disk_size_gb
    os_disk_type                 = var.system_pool.os_disk_type
    orchestrator_version         = var.kubernetes_version
    tags                         = local.tags
  }

  identity {
    type = "SystemAssigned"
  }

  # The CSI drivers of the storage classes suites use (managed-csi*, azurefile-csi*): AKS's
  # defaults, set here so that the preflight's list of installed drivers is this module's.
  storage_profile {
    disk_driver_enabled = true
    file_driver_enabled = true
  }

  network_profile {
    network_plugin      = var.network_plugin
    network_plugin_mode = var.network_plugin_mode
    network_data_plane  = var.network_dataplane
    network_policy      = var.network_dataplane == "cilium" ? "cilium" : null
  }

  lifecycle {
    precondition {
      condition     = var.network_plugin == "azure" || var.network_plugin_mode == null
      error_message = "network_plugin_mode \"overlay\" needs network_plugin \"azure\"; set network_plugin_mode = null for ${var.network_plugin}."
    }
    precondition {
      condition     = var.network_dataplane != "cilium" || (var.network_plugin == "azure" && var.network_plugin_mode == "overlay")
      error_message = "network_dataplane \"cilium\" needs network_plugin \"azure\" and network_plugin_mode \"overlay\"."
    }
  }
}

# Two node pool resources, because ignore_changes cannot depend on the pool: the node count of a
# pool of a fixed size is Terraform's (applied again with another count, the pool scales: the
# cluster CRUD suite), that of an autoscaled pool the cluster autoscaler's.
resource "azurerm_kubernetes_cluster_node_pool" "this" {
  for_each = { for name, pool in local.node_pools : name => pool if pool.max_count == null }

  name                  = each.key
  kubernetes_cluster_id = azurerm_kubernetes_cluster.this.id
  mode                  = "User"
  vm_size               = each.value.machine_size
  node_count            = each.value.count
  zones                 = length(each.value.zones) > 0 ? each.value.zones : null
  node_labels           = each.value.labels
  node_taints           = [for taint in each.value.taints : taint.value == "" ? "${taint.key}:${taint.effect}" : "${taint.key}=${taint.value}:${taint.effect}"]
  os_disk_size_gb       = each.value.os_disk_size_gb
  os_disk_type          = each.value.os_disk_type
  orchestrator_version  = var.kubernetes_version
  tags                  = local.tags
}

resource "azurerm_kubernetes_cluster_node_pool" "autoscaled" {
  for_each = { for name, pool in local.node_pools : name => pool if pool.max_count != null }

  name                  = each.key
  kubernetes_cluster_id = azurerm_kubernetes_cluster.this.id
  mode                  = "User"
  vm_size               = each.value.machine_size
  node_count            = each.value.count
  auto_scaling_enabled  = true
  min_count             = each.value.min_count
  max_count             = each.value.max_count
  zones                 = length(each.value.zones) > 0 ? each.value.zones : null
  node_labels           = each.value.labels
  node_taints           = [for taint in each.value.taints : taint.value == "" ? "${taint.key}:${taint.effect}" : "${taint.key}=${taint.value}:${taint.effect}"]
  os_disk_size_gb       = each.value.os_disk_size_gb
  os_disk_type          = each.value.os_disk_type
  orchestrator_version  = var.kubernetes_version
  tags                  = local.tags

  lifecycle {
    # The cluster autoscaler changes the node count.
    ignore_changes = [node_count]
  }
}
