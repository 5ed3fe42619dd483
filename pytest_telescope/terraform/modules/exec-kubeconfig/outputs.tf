output "kubeconfig" {
  description = "Kubeconfig (YAML) with one cluster, context and user, the current context; it holds no secret, the plugin gets the token when a client connects."
  value       = local.kubeconfig
}
