# Rendered only from local.kubeconfig_cluster, so that a test can render it
# from made-up cluster facts without a Google Cloud project. The plugin uses
# Application Default Credentials, like the google provider, so no gcloud
# login is needed.
module "kubeconfig" {
  source = "../modules/exec-kubeconfig"

  cluster = local.kubeconfig_cluster
  exec = {
    command              = "gke-gcloud-auth-plugin"
    args                 = ["--use_application_default_credentials"]
    provide_cluster_info = true
    install_hint         = "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin"
  }
}
