variable "system_pool" {
  description = "The cluster module's system_pool, its optional attributes filled in: machine_size, count, zones (empty = default_zones), labels, critical_addons_only (taint it CriticalAddonsOnly=true:NoSchedule), os_disk_size_gb and os_disk_type."
  type = object({
    machine_size         = string
    count                = number
    zones                = list(string)
    labels               = map(string)
    critical_addons_only = bool
    os_disk_size_gb      = number
    os_disk_type         = string
  })
  nullable = false
}

variable "node_pools" {
  description = "The cluster module's node_pools, their optional attributes filled in: name, count, min_count and max_count (null: a fixed size), machine_size, zones (empty = default_zones), labels, taints ({key, value, effect}, effect the Kubernetes way), os_disk_size_gb and os_disk_type."
  type = list(object({
    name         = string
    count        = number
    min_count    = number
    max_count    = number
    machine_size = string
    zones        = list(string)
    labels       = map(string)
    taints = list(object({
      key    = string
      value  = string
      effect = string
    }))
    os_disk_size_gb = number
    os_disk_type    = string
  }))
  nullable = false
}

variable "default_zones" {
  description = "Zones of a pool that names none."
  type        = list(string)
  nullable    = false
}
