# The tags common to every resource of a cluster module, and the same as GCP
# labels. Built-in Terraform only, so the tests render it without a cloud
# account.

terraform {
  # terraform_data (1.4).
  required_version = ">= 1.5.0"
}

# The first apply's time, kept in state: timestamp() alone would change the
# tags on every plan. (The same reason keeps the common tags out of a
# provider's default_tags, which cannot hold values known only after apply.)
resource "terraform_data" "creation_time" {
  input = timestamp()

  lifecycle {
    ignore_changes = [input]
  }
}

locals {
  creation_time = terraform_data.creation_time.output
  tags = merge(var.extra_tags, {
    run_id            = var.run_id
    scenario          = var.scenario
    owner             = var.owner
    creation_time     = local.creation_time
    deletion_due_time = timeadd(local.creation_time, var.deletion_delay)
  })
  # GCP label keys and values take only [a-z0-9_-] (up to 63 characters), so
  # 2026-01-02T03:04:05Z becomes 2026-01-02t03-04-05z.
  labels = {
    for key, value in local.tags : substr(replace(lower(key), "/[^a-z0-9_-]/", "-"), 0, 63) => substr(replace(lower(value), "/[^a-z0-9_-]/", "-"), 0, 63)
  }
}
