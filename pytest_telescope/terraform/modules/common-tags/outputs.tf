output "tags" {
  description = "extra_tags plus run_id, scenario, owner, creation_time (the first apply's time, RFC 3339) and deletion_due_time (creation_time + deletion_delay)."
  value       = local.tags
}

output "labels" {
  description = "The tags as GCP labels: keys and values lower-cased, other characters than [a-z0-9_-] turned into \"-\", cut to 63 characters."
  value       = local.labels
}
