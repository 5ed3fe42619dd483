terraform {
  # optional() object attributes with defaults (1.3) and terraform_data (1.4).
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # EKS access entries (access_config) need 5.33+.
      version = ">= 5.40, < 7.0"
    }
  }
}
