# The embedded "local" benchmark target of pytest-telescope.
#
# All work is done by target.sh (POSIX sh) through local-exec, so only
# built-in Terraform features are used. Inputs reach the script through
# environment variables, never through a shell command line, and the script
# validates them again because it runs as root.
#
# Two resources, because Terraform does not run destroy-time provisioners of
# a tainted resource (one whose create provisioner failed):
#   * terraform_data.teardown only has the destroy provisioner. It is created
#     first and never fails, so `terraform destroy` always runs the teardown,
#     even after a half-failed create.
#   * terraform_data.target runs the create provisioner. On failure the script
#     rolls back what it made and exits non-zero with the failed step on stderr.

locals {
  netns       = var.mode == "netns"
  scratch_dir = var.scratch_dir != "" ? var.scratch_dir : "${var.state_dir}/scratch"
  status_file = "${var.state_dir}/status.json"

  # Keep in sync with target.sh, which derives the same names from `name`.
  endpoints = local.netns ? {
    server = {
      namespace = "telescope-${var.name}-server"
      address   = "10.200.0.1"
      interface = "ts${var.name}s"
    }
    client = {
      namespace = "telescope-${var.name}-client"
      address   = "10.200.0.2"
      interface = "ts${var.name}c"
    }
    } : {
    server = {
      namespace = null
      address   = "127.0.0.1"
      interface = "lo"
    }
    client = {
      namespace = null
      address   = "127.0.0.1"
      interface = "lo"
    }
  }

  # Everything the script needs. Any change replaces both resources, so the
  # old target is torn down with its old settings before the new one is made.
  target = {
    name         = var.name
    mode         = var.mode
    state_dir    = var.state_dir
    scratch_dir  = local.scratch_dir
    rate_mbit    = var.rate_mbit
    delay_ms     = var.delay_ms
    loss_percent = var.loss_percent
  }
}

resource "terraform_data" "teardown" {
  triggers_replace = local.target
  input            = local.target

  provisioner "local-exec" {
    when        = destroy
    interpreter = ["/bin/sh", "${path.module}/target.sh"]
    command     = "destroy"
    environment = {
      TELESCOPE_NAME         = self.input.name
      TELESCOPE_MODE         = self.input.mode
      TELESCOPE_STATE_DIR    = self.input.state_dir
      TELESCOPE_SCRATCH_DIR  = self.input.scratch_dir
      TELESCOPE_RATE_MBIT    = self.input.rate_mbit
      TELESCOPE_DELAY_MS     = self.input.delay_ms
      TELESCOPE_LOSS_PERCENT = self.input.loss_percent
    }
  }
}

resource "terraform_data" "target" {
  triggers_replace = local.target
  input            = local.target

  depends_on = [terraform_data.teardown]

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "${path.module}/target.sh"]
    command     = "create"
    environment = {
      TELESCOPE_NAME         = local.target.name
      TELESCOPE_MODE         = local.target.mode
      TELESCOPE_STATE_DIR    = local.target.state_dir
      TELESCOPE_SCRATCH_DIR  = local.target.scratch_dir
      TELESCOPE_RATE_MBIT    = local.target.rate_mbit
      TELESCOPE_DELAY_MS     = local.target.delay_ms
      TELESCOPE_LOSS_PERCENT = local.target.loss_percent
    }
  }
}
