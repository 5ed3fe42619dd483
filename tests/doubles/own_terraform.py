"""A Terraform directory of a user's own (``--telescope-terraform-dir``) for the local target: the
shipped local module wrapped, its variables and outputs passed through, with what a test adds."""

from pathlib import Path

SHIPPED_LOCAL = Path(__file__).resolve().parents[2] / "pytest_telescope" / "terraform" / "local"

_WRAPPER = """
variable "name" { type = string }
variable "mode" { type = string }
variable "state_dir" { type = string }

module "local" {
  source    = "%s"
  name      = var.name
  mode      = var.mode
  state_dir = var.state_dir
}

output "mode" { value = module.local.mode }
output "endpoints" { value = module.local.endpoints }
output "scratch_dir" { value = module.local.scratch_dir }
output "status_file" { value = module.local.status_file }
"""


def wrapped_local_module(directory: Path, added: str) -> Path:
    """``directory``, holding ``local/main.tf``: the wrapper, and ``added`` (HCL) beside it."""
    (directory / "local").mkdir(parents=True)
    (directory / "local" / "main.tf").write_text(_WRAPPER % SHIPPED_LOCAL + added)
    return directory
