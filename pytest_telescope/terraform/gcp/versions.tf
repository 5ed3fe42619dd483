terraform {
  # optional() object attributes with defaults (1.3) and terraform_data (1.4).
  required_version = ">= 1.5.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
  }
}
