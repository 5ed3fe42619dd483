terraform {
  # terraform_data (1.4+) and local-exec are built in: `terraform init` needs
  # no provider download, so this module works offline.
  required_version = ">= 1.4.0"
}
