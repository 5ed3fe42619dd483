variable "cluster_name" {
  description = "Name of the EKS cluster; also prefixes the VPC, IAM roles and launch templates. 2-40 chars of [a-z0-9-], starting with a letter."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 2-40 characters of [a-z0-9-], start with a letter and not end with \"-\"."
  }
}

variable "region" {
  description = "AWS region, e.g. \"us-west-2\"."
  type        = string
  nullable    = false
}

variable "zones" {
  description = "Availability zones of the VPC: one public subnet each (EKS needs at least two), e.g. [\"us-west-2a\", \"us-west-2b\"]. Node pools choose among these; a pool that names none is in the first. Empty = the region's first two zones (in name order) where EKS can run."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = length(var.zones) == 0 || (length(var.zones) >= 2 && length(var.zones) <= 16 && length(distinct(var.zones)) == length(var.zones))
    error_message = "zones must be empty (the region's) or list 2 to 16 distinct availability zones (EKS needs at least two)."
  }
}

variable "vpc_cidr" {
  description = "CIDR of the VPC created for the cluster; each zone gets a /20 of it, in the order of zones."
  type        = string
  default     = "10.0.0.0/16"
  nullable    = false

  validation {
    condition     = can(cidrsubnet(var.vpc_cidr, 4, 0))
    error_message = "vpc_cidr must be an IPv4 CIDR with room for 16 subnets, such as \"10.0.0.0/16\"."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes version of the control plane, e.g. \"1.31\"; node groups follow it. null = the EKS default version."
  type        = string
  default     = null
}

variable "ami_type" {
  description = "EKS AMI type of every node group, e.g. \"AL2023_x86_64_STANDARD\" or \"AL2023_ARM_64_STANDARD\" (for Graviton machine sizes)."
  type        = string
  default     = "AL2023_x86_64_STANDARD"
  nullable    = false
}

variable "system_pool" {
  description = "The system node group, named \"system\": machine_size (instance type), count, zones (subset of the cluster's zones; empty = the first), labels, os_disk_size_gb and os_disk_type (EBS type such as \"gp3\"; null = AMI default). critical_addons_only taints it CriticalAddonsOnly=true:NoSchedule so that only system pods run there."
  type = object({
    machine_size         = optional(string, "m6i.large")
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
  description = "Node groups, as a suite declares them: name (1-12 chars of [a-z0-9], starting with a letter, not \"system\"), count (the initial count of an autoscaled pool), min_count and max_count (both set: the cluster autoscaler keeps the pool between them; both null: a fixed size), machine_size (instance type, e.g. \"m6i.xlarge\"), zones (subset of the cluster's zones; empty = the first), labels, taints ({key, value, effect} with effect NoSchedule, PreferNoSchedule or NoExecute), os_disk_size_gb and os_disk_type (EBS type such as \"gp3\"; null = AMI default)."
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
