# The tags common to every resource. Only variables and a built-in resource
# are used here, so the tests render this file without a cloud account.

# The first apply's time, kept in state: timestamp() alone would change the
# tags on every plan.
resource "terraform_data" "creation_time" {
  input = timestamp()

  lifecycle {
    ignore_changes = [input]
  }
}

locals {
  creation_time = terraform_data.creation_time.output
  tags = merge(var.tags, {
    run_id            = var.run_id
    scenario          = var.scenario
    owner             = var.owner
    creation_time     = local.creation_time
    deletion_due_time = timeadd(local.creation_time, var.deletion_delay)
  })
}
