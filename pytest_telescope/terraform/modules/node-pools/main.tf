# A cluster module's node pools as one map, the system pool included, for the
# clouds whose system pool is a node pool like the others (EKS, GKE). Built-in
# Terraform only, so the tests render it without a cloud account.

terraform {
  required_version = ">= 1.5.0"
}

locals {
  # The system pool is one more node pool, first in the list.
  system_pool = {
    name            = "system"
    count           = var.system_pool.count
    min_count       = null
    max_count       = null
    machine_size    = var.system_pool.machine_size
    zones           = var.system_pool.zones
    labels          = var.system_pool.labels
    taints          = var.system_pool.critical_addons_only ? [{ key = "CriticalAddonsOnly", value = "true", effect = "NoSchedule" }] : []
    os_disk_size_gb = var.system_pool.os_disk_size_gb
    os_disk_type    = var.system_pool.os_disk_type
  }
  pools = {
    for pool in concat([local.system_pool], var.node_pools) : pool.name => merge(pool, {
      zones = length(pool.zones) > 0 ? pool.zones : var.default_zones
    })
  }
}
