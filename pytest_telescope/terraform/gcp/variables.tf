variable "project_id" {
  description = "Id of the Google Cloud project to create the cluster in (the Compute Engine and Kubernetes Engine APIs must be enabled)."
  type        = string
  nullable    = false
}

variable "cluster_name" {
  description = "Name of the GKE cluster, also of its VPC network and subnetwork. 2-40 chars of [a-z0-9-], starting with a letter."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 2-40 characters of [a-z0-9-], start with a letter and not end with \"-\"."
  }
}

variable "region" {
  description = "Google Cloud region of the (regional) cluster, e.g. \"us-central1\"."
  type        = string
  nullable    = false
}

variable "kubernetes_version" {
  description = "Kubernetes version of the control plane, e.g. \"1.31\" (GKE picks the latest patch); node pools start at the same version. A pinned version takes the cluster out of release channels and turns node auto-upgrade off; null = the REGULAR channel's default, upgraded by GKE."
  type        = string
  default     = null
}

variable "system_pool" {
  description = "The system node pool, named \"system\": machine_size (machine type), count (total, spread evenly over the zones), zones (in var.region; empty = the region's first zone), labels, os_disk_size_gb and os_disk_type (\"pd-balanced\", \"pd-ssd\", ...; null = GKE default). critical_addons_only taints it CriticalAddonsOnly=true:NoSchedule so that only system pods run there."
  type = object({
    machine_size         = optional(string, "e2-standard-2")
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
  description = "Node pools, as a suite declares them: name (1-12 chars of [a-z0-9], starting with a letter, not \"system\"), count (total, spread evenly over the zones), machine_size (machine type, e.g. \"n2-standard-4\"), zones (in var.region, e.g. [\"us-central1-a\"]; empty = the region's first zone), labels, taints ({key, value, effect} with effect NoSchedule, PreferNoSchedule or NoExecute), os_disk_size_gb and os_disk_type (\"pd-balanced\", \"pd-ssd\", ...; null = GKE default)."
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

variable "network_dataplane" {
  description = "GKE dataplane: \"legacy\" (kube-proxy with iptables, GKE's default) or \"advanced\" (GKE Dataplane V2, eBPF/Cilium, which also enforces network policy). The network plugin is always GKE's VPC-native networking (alias IP ranges)."
  type        = string
  default     = "legacy"
  nullable    = false

  validation {
    condition     = contains(["legacy", "advanced"], var.network_dataplane)
    error_message = "network_dataplane must be \"legacy\" or \"advanced\"."
  }
}

variable "run_id" {
  description = "Id of the benchmark run; the run_id label of every resource (lower-cased, other characters than [a-z0-9_-] become \"-\")."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.run_id) > 0
    error_message = "run_id must not be empty."
  }
}

variable "scenario" {
  description = "Name of the scenario (suite) this cluster is for; the scenario label of every resource (sanitised like run_id)."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.scenario) > 0
    error_message = "scenario must not be empty."
  }
}

variable "owner" {
  description = "Team or person accountable for the resources; the owner label of every resource (sanitised like run_id)."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.owner) > 0
    error_message = "owner must not be empty."
  }
}

variable "deletion_delay" {
  description = "How long the resources may live, as a Terraform duration (\"90m\", \"2h\", \"72h\"; no days). The deletion_due_time label is creation_time plus this, for a garbage collector of leaked resources."
  type        = string
  default     = "2h"
  nullable    = false

  validation {
    condition     = can(timeadd("2000-01-01T00:00:00Z", var.deletion_delay)) && !startswith(var.deletion_delay, "-")
    error_message = "deletion_delay must be a positive Terraform duration such as \"90m\" or \"2h\" (units h, m, s)."
  }
}

variable "tags" {
  description = "Extra labels for every resource that takes labels (keys and values sanitised like run_id). run_id, scenario, owner, creation_time and deletion_due_time are always set and win over these."
  type        = map(string)
  default     = {}
  nullable    = false
}
