# Rendered only from local.kubeconfig_cluster and var.region, so that a test
# can render it from made-up cluster facts without an AWS account.
locals {
  kubeconfig = yamlencode({
    apiVersion        = "v1"
    kind              = "Config"
    "current-context" = local.kubeconfig_cluster.name
    clusters = [{
      name = local.kubeconfig_cluster.name
      cluster = {
        server                       = local.kubeconfig_cluster.endpoint
        "certificate-authority-data" = local.kubeconfig_cluster.ca_data
      }
    }]
    contexts = [{
      name    = local.kubeconfig_cluster.name
      context = { cluster = local.kubeconfig_cluster.name, user = local.kubeconfig_cluster.name }
    }]
    users = [{
      name = local.kubeconfig_cluster.name
      user = {
        exec = {
          apiVersion = "client.authentication.k8s.io/v1beta1"
          command    = "aws"
          args       = ["--region", var.region, "eks", "get-token", "--cluster-name", local.kubeconfig_cluster.name, "--output", "json"]
        }
      }
    }]
  })
}
