variable "cluster" {
  description = "The cluster: name (also of the kubeconfig's context and user), endpoint (https URL of the API server) and ca_data (base64 PEM of its certificate authority)."
  type = object({
    name     = string
    endpoint = string
    ca_data  = string
  })
  nullable = false
}

variable "exec" {
  description = "The exec credential plugin (client.authentication.k8s.io/v1beta1) that gets the user's token: command, args, provide_cluster_info (pass the cluster to the plugin in KUBERNETES_EXEC_INFO) and install_hint (shown when the command is not found; null = none)."
  type = object({
    command              = string
    args                 = list(string)
    provide_cluster_info = optional(bool, false)
    install_hint         = optional(string)
  })
  nullable = false
}
