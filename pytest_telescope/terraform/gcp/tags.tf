# The tags common to every resource, as GCP labels. Only variables and a
# built-in child module are used here, so the tests render this file without a
# cloud account.

module "common_tags" {
  source = "../modules/common-tags"

  run_id         = var.run_id
  scenario       = var.scenario
  owner          = var.owner
  deletion_delay = var.deletion_delay
  extra_tags     = var.tags
}

# So that clusters applied when creation_time was kept here keep theirs.
moved {
  from = terraform_data.creation_time
  to   = module.common_tags.terraform_data.creation_time
}

locals {
  tags   = module.common_tags.tags
  labels = module.common_tags.labels
}
