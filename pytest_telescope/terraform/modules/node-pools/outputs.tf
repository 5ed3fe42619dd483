output "pools" {
  description = "Every pool by name, \"system\" included: {name, count, min_count, max_count (null unless autoscaled), machine_size, zones (never empty), labels, taints, os_disk_size_gb, os_disk_type}."
  value       = local.pools
}

output "taint_effects" {
  description = "The EKS and GKE API names of the Kubernetes taint effects: NoSchedule => NO_SCHEDULE, PreferNoSchedule => PREFER_NO_SCHEDULE, NoExecute => NO_EXECUTE."
  value = {
    NoSchedule       = "NO_SCHEDULE"
    PreferNoSchedule = "PREFER_NO_SCHEDULE"
    NoExecute        = "NO_EXECUTE"
  }
}

output "autoscaled" {
  description = "Whether any pool is autoscaled (has a max_count)."
  value       = anytrue([for pool in values(local.pools) : pool.max_count != null])
}
