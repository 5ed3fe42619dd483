# Rendered only from local.kubeconfig_cluster and var.region, so that a test
# can render it from made-up cluster facts without an AWS account.
module "kubeconfig" {
  source = "../modules/exec-kubeconfig"

  cluster = local.kubeconfig_cluster
  exec = {
    command = "aws"
    args    = ["--region", var.region, "eks", "get-token", "--cluster-name", local.kubeconfig_cluster.name, "--output", "json"]
  }
}
