terraform {
  # optional() object attributes with defaults (1.3) and terraform_data (1.4).
  required_version = ">= 1.5.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.0"
    }
  }
}
