# A kubeconfig of one cluster whose user is an exec credential plugin. Built-in
# Terraform only, so the tests render it from made-up cluster facts without a
# cloud account.

terraform {
  # optional() object attributes with defaults (1.3).
  required_version = ">= 1.5.0"
}

locals {
  name = var.cluster.name
  kubeconfig = yamlencode({
    apiVersion        = "v1"
    kind              = "Config"
    "current-context" = local.name
    clusters = [{
      name = local.name
      cluster = {
        server                       = var.cluster.endpoint
        "certificate-authority-data" = var.cluster.ca_data
      }
    }]
    contexts = [{
      name    = local.name
      context = { cluster = local.name, user = local.name }
    }]
    users = [{
      name = local.name
      user = {
        # The optional keys are left out rather than written as null.
        exec = merge(
          { apiVersion = "client.authentication.k8s.io/v1beta1", command = var.exec.command, args = var.exec.args },
          { for key, value in { provideClusterInfo = var.exec.provide_cluster_info } : key => value if value },
          { for key, value in { installHint = var.exec.install_hint } : key => value if value != null },
        )
      }
    }]
  })
}
