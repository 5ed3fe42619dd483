variable "cluster_name" {
  description = "Name of the AKS cluster, also its DNS prefix; the resource group is rg-<cluster_name>. 2-40 chars of [a-z0-9-], starting with a letter."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 2-40 characters of [a-z0-9-], start with a letter and not end with \"-\"."
  }
}

variable "region" {
  description = "Azure location of the resource group and the cluster, e.g. \"eastus2\"."
  type        = string
  nullable    = false
}

variable "kubernetes_version" {
  description = "Kubernetes version of the control plane and every node pool, e.g. \"1.31\" (AKS picks the latest patch). null = the AKS default version."
  type        = string
  default     = null
}

variable "sku_tier" {
  description = "AKS control plane tier: \"Free\", \"Standard\" or \"Premium\". Standard and Premium scale the API server for large clusters."
  type        = string
  default     = "Free"
  nullable    = false

  validation {
    condition     = contains(["Free", "Standard", "Premium"], var.sku_tier)
    error_message = "sku_tier must be \"Free\", \"Standard\" or \"Premium\"."
  }
}

variable "system_pool" {
  description = "The system node pool (AKS default_node_pool, named \"system\"): machine_size (VM size), count, zones (e.g. [\"1\", \"2\"]; empty = no zone), labels, os_disk_size_gb and os_disk_type (\"Managed\" or \"Ephemeral\"; null = AKS default). critical_addons_only taints it CriticalAddonsOnly=true:NoSchedule so that only system pods run there."
  type = object({
    machine_size         = optional(string, "Standard_D2s_v5")
    count                = optional(number, 1)
    zones                = optional(list(string), [])
    labels               = optional(map(string), {})
    critical_addons_only = optional(bool, false)
    os_disk_size_gb      = optional(number)
    os_disk_type         = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.system_pool.count >= 1
    error_message = "system_pool.count must be at least 1."
  }
}

variable "node_pools" {
  description = "User node pools, as a suite declares them: name (1-12 chars of [a-z0-9], starting with a letter, not \"system\"), count (the initial count of an autoscaled pool), min_count and max_count (both set: the cluster autoscaler keeps the pool between them; both null: a fixed size), machine_size (VM size, e.g. \"Standard_D4s_v5\"), zones (e.g. [\"1\"]; empty = no zone), labels, taints ({key, value, effect} with effect NoSchedule, PreferNoSchedule or NoExecute), os_disk_size_gb and os_disk_type (\"Managed\" or \"Ephemeral\"; null = AKS default)."
  type = list(object({
    name         = string
    count        = number
    min_count    = optional(number)
    max_count    = optional(number)
    machine_size = string
    zones        = optional(list(string), [])
    labels       = optional(map(string), {})
    taints = optional(list(object({
      key    = string
      value  = optional(string, "")
      effect = string
    })), [])
    os_disk_size_gb = optional(number)
    os_disk_type    = optional(string)
  }))
  default  = []
  nullable = false

  validation {
    condition     = alltrue([for pool in var.node_pools : can(regex("^[a-z][a-z0-9]{0,11}$", pool.name)) && pool.name != "system"])
    error_message = "Every node_pools name must be 1-12 characters of [a-z0-9], start with a letter and not be \"system\"."
  }

  validation {
    condition     = length(distinct(var.node_pools[*].name)) == length(var.node_pools)
    error_message = "node_pools names must be unique."
  }

  validation {
    condition     = alltrue([for pool in var.node_pools : pool.count >= 0])
    error_message = "node_pools count must be 0 or more."
  }

  validation {
    condition = alltrue([for pool in var.node_pools : (pool.min_count == null) == (pool.max_count == null) && (
      pool.max_count == null ? true : pool.min_count <= pool.count && pool.count <= pool.max_count && pool.max_count >= 1
    )])
    error_message = "An autoscaled node pool sets both min_count and max_count, with min_count <= count <= max_count and max_count >= 1."
  }

  validation {
    condition     = alltrue(flatten([for pool in var.node_pools : [for taint in pool.taints : contains(["NoSchedule", "PreferNoSchedule", "NoExecute"], taint.effect)]]))
    error_message = "node_pools taint effect must be NoSchedule, PreferNoSchedule or NoExecute."
  }
}

variable "network_plugin" {
  description = "AKS network plugin: \"azure\" (Azure CNI), \"kubenet\" or \"none\" (bring your own CNI)."
  type        = string
  default     = "azure"
  nullable    = false

  validation {
    condition     = contains(["azure", "kubenet", "none"], var.network_plugin)
    error_message = "network_plugin must be \"azure\", \"kubenet\" or \"none\"."
  }
}

variable "network_plugin_mode" {
  description = "\"overlay\" (Azure CNI Overlay: pod IPs from a private CIDR) or null (pods get VNet IPs). Only with network_plugin \"azure\"."
  type        = string
  default     = "overlay"

  validation {
    condition     = var.network_plugin_mode == null || var.network_plugin_mode == "overlay"
    error_message = "network_plugin_mode must be \"overlay\" or null."
  }
}

variable "network_dataplane" {
  description = "AKS network dataplane: \"azure\" or \"cilium\" (Azure CNI powered by Cilium, which also enforces network policy; needs network_plugin \"azure\" and network_plugin_mode \"overlay\")."
  type        = string
  default     = "azure"
  nullable    = false

  validation {
    condition     = contains(["azure", "cilium"], var.network_dataplane)
    error_message = "network_dataplane must be \"azure\" or \"cilium\"."
  }
}

variable "run_id" {
  description = "Id of the benchmark run; the run_id tag of every resource."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.run_id) > 0
    error_message = "run_id must not be empty."
  }
}

variable "scenario" {
  description = "Name of the scenario (suite) this cluster is for; the scenario tag of every resource."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.scenario) > 0
    error_message = "scenario must not be empty."
  }
}

variable "owner" {
  description = "Team or person accountable for the resources; the owner tag of every resource."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.owner) > 0
    error_message = "owner must not be empty."
  }
}

variable "deletion_delay" {
  description = "How long the resources may live, as a Terraform duration (\"90m\", \"2h\", \"72h\"; no days). The deletion_due_time tag is creation_time plus this, for a garbage collector of leaked resources."
  type        = string
  default     = "2h"
  nullable    = false

  validation {
    condition     = can(timeadd("2000-01-01T00:00:00Z", var.deletion_delay)) && !startswith(var.deletion_delay, "-")
    error_message = "deletion_delay must be a positive Terraform duration such as \"90m\" or \"2h\" (units h, m, s)."
  }
}

variable "tags" {
  description = "Extra tags for every resource. run_id, scenario, owner, creation_time and deletion_due_time are always set and win over these."
  type        = map(string)
  default     = {}
  nullable    = false
}
