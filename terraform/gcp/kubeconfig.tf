# Rendered only from local.kubeconfig_cluster, so that a test can render it
# from made-up cluster facts without a Google Cloud project. The plugin uses
# Application Default Credentials, like the google provider, so no gcloud
# login is needed.
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
          apiVersion         = "client.authentication.k8s.io/v1beta1"
          command            = "gke-gcloud-auth-plugin"
          args               = ["--use_application_default_credentials"]
          provideClusterInfo = true
          installHint        = "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin"
        }
      }
    }]
  })
}
