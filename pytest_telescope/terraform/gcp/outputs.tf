output "cluster_name" {
  description = "Name of the GKE cluster."
  value       = google_container_cluster.this.name
}

output "region" {
  description = "Google Cloud region of the cluster."
  value       = var.region
}

output "project_id" {
  description = "Google Cloud project of the cluster."
  value       = var.project_id
}

output "kubernetes_version" {
  description = "Kubernetes version the control plane runs."
  value       = google_container_cluster.this.master_version
}

output "kubeconfig" {
  description = "Kubeconfig (YAML) whose user runs gke-gcloud-auth-plugin --use_application_default_credentials (exec plugin, client.authentication.k8s.io/v1beta1): the plugin must be on PATH, with Application Default Credentials that can reach the project. The Python kubernetes client and kubectl run it themselves."
  value       = module.kubeconfig.kubeconfig
  sensitive   = true
}

output "node_pools" {
  description = "Every node pool, the system pool included: name => {count (total over its zones), labels, zones}. Nodes carry the GKE label cloud.google.com/gke-nodepool=<name>."
  value = {
    for name, pool in merge(google_container_node_pool.this, google_container_node_pool.autoscaled) : name => {
      count  = module.node_pools.pools[name].count
      labels = module.node_pools.pools[name].labels
      zones  = module.node_pools.pools[name].zones
    }
  }
}
