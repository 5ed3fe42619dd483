provider "google" {
  project = var.project_id
  region  = var.region
}

data "google_compute_zones" "available" {
  region = var.region
}

module "node_pools" {
  source = "../modules/node-pools"

  system_pool   = var.system_pool
  node_pools    = var.node_pools
  default_zones = local.default_zones
}

locals {
  default_zones = [sort(data.google_compute_zones.available.names)[0]]

  kubeconfig_cluster = {
    name     = google_container_cluster.this.name
    endpoint = "https://${google_container_cluster.this.endpoint}"
    ca_data  = google_container_cluster.this.master_auth[0].cluster_ca_certificate
  }
}

# Network: a VPC with one subnetwork and secondary ranges for pods and
# services (VPC-native cluster). Compute networks take no labels.

resource "google_compute_network" "this" {
  name                    = var.cluster_name
  auto_create_subnetworks = false
}

resource "google_compute_subnetwork" "this" {
  name          = var.cluster_name
  region        = var.region
  network       = google_compute_network.this.id
  ip_cidr_range = "10.0.0.0/20"

  secondary_ip_range {
    range_name    = "pods"
    ip_cidr_range = "10.4.0.0/14"
  }

  secondary_ip_range {
    range_name    = "services"
    ip_cidr_range = "10.8.0.0/20"
  }
}

resource "google_container_cluster" "this" {
  name                = var.cluster_name
  location            = var.region
  network             = google_compute_network.this.id
  subnetwork          = google_compute_subnetwork.this.id
  networking_mode     = "VPC_NATIVE"
  datapath_provider   = var.network_dataplane == "advanced" ? "ADVANCED_DATAPATH" : "LEGACY_DATAPATH"
  min_master_version  = var.kubernetes_version
  deletion_protection = false
  resource_labels     = local.labels

  # Node pools are managed below; GKE needs a first pool to create the
  # cluster, kept to one node in one zone and removed at once.
  remove_default_node_pool = true
  initial_node_count       = 1
  node_locations           = local.default_zones

  # The CSI driver of the storage classes suites use (standard-rwo, premium-rwo): GKE's default,
  # set here so that the preflight's list of installed drivers is this module's.
  addons_config {
    gce_persistent_disk_csi_driver_config {
      enabled = true
    }
  }

  ip_allocation_policy {
    cluster_secondary_range_name  = "pods"
    services_secondary_range_name = "services"
  }

  release_channel {
    channel = var.kubernetes_version == null ? "REGULAR" : "UNSPECIFIED"
  }
}

# Two node pool resources, because ignore_changes cannot depend on the pool: the node count of a
# pool of a fixed size is Terraform's (applied again with another count, the pool scales: the
# cluster CRUD suite), that of an autoscaled pool the cluster autoscaler's.
resource "google_container_node_pool" "this" {
  for_each = { for name, pool in module.node_pools.pools : name => pool if pool.max_count == null }

  name           = each.key
  cluster        = google_container_cluster.this.id
  location       = var.region
  node_locations = each.value.zones
  # GKE counts nodes per zone.
  node_count = each.value.count / length(each.value.zones)

  management {
    auto_repair  = true
    auto_upgrade = var.kubernetes_version == null
  }

  node_config {
    machine_type    = each.value.machine_size
    disk_size_gb    = each.value.os_disk_size_gb
    disk_type       = each.value.os_disk_type
    labels          = each.value.labels
    resource_labels = local.labels
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]

    dynamic "taint" {
      for_each = each.value.taints
      content {
        key    = taint.value.key
        value  = taint.value.value
        effect = module.node_pools.taint_effects[taint.value.effect]
      }
    }
  }

  lifecycle {
    precondition {
      condition     = alltrue([for zone in each.value.zones : startswith(zone, "${var.region}-")])
      error_message = "Node pool ${each.key}: zones ${jsonencode(each.value.zones)} must be in region ${var.region}."
    }
    precondition {
      condition     = each.value.count % length(each.value.zones) == 0
      error_message = "Node pool ${each.key}: count ${each.value.count} must be a multiple of its ${length(each.value.zones)} zones (GKE puts the same number of nodes in each zone)."
    }
  }
}

resource "google_container_node_pool" "autoscaled" {
  for_each = { for name, pool in module.node_pools.pools : name => pool if pool.max_count != null }

  name           = each.key
  cluster        = google_container_cluster.this.id
  location       = var.region
  node_locations = each.value.zones
  # GKE counts nodes per zone.
  node_count = each.value.count / length(each.value.zones)

  # The cluster autoscaler's bounds, in all the pool's zones together.
  autoscaling {
    total_min_node_count = each.value.min_count
    total_max_node_count = each.value.max_count
    location_policy      = "ANY"
  }

  management {
    auto_repair  = true
    auto_upgrade = var.kubernetes_version == null
  }

  node_config {
    machine_type    = each.value.machine_size
    disk_size_gb    = each.value.os_disk_size_gb
    disk_type       = each.value.os_disk_type
    labels          = each.value.labels
    resource_labels = local.labels
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]

    dynamic "taint" {
      for_each = each.value.taints
      content {
        key    = taint.value.key
        value  = taint.value.value
        effect = module.node_pools.taint_effects[taint.value.effect]
      }
    }
  }

  lifecycle {
    # The cluster autoscaler changes the node count.
    ignore_changes = [node_count]

    precondition {
      condition     = alltrue([for zone in each.value.zones : startswith(zone, "${var.region}-")])
      error_message = "Node pool ${each.key}: zones ${jsonencode(each.value.zones)} must be in region ${var.region}."
    }
    precondition {
      condition     = each.value.count % length(each.value.zones) == 0
      error_message = "Node pool ${each.key}: count ${each.value.count} must be a multiple of its ${length(each.value.zones)} zones (GKE puts the same number of nodes in each zone)."
    }
  }
}
