output "cluster_name" {
  description = "Name of the AKS cluster."
  value       = azurerm_kubernetes_cluster.this.name
}

output "region" {
  description = "Azure location of the cluster."
  value       = azurerm_kubernetes_cluster.this.location
}

output "resource_group_name" {
  description = "Resource group that holds the cluster (AKS puts the nodes in its own MC_* group)."
  value       = azurerm_resource_group.this.name
}

output "kubernetes_version" {
  description = "Kubernetes version the control plane runs."
  value       = azurerm_kubernetes_cluster.this.current_kubernetes_version
}

output "kubeconfig" {
  description = "Kubeconfig (YAML) of the cluster admin with a client certificate: loads as it is with the Python kubernetes client or kubectl, no extra tool."
  value       = azurerm_kubernetes_cluster.this.kube_config_raw
  sensitive   = true
}

output "node_pools" {
  description = "Every node pool, the system pool included: name => {count, labels, zones}. Nodes carry the AKS label agentpool=<name>."
  value = merge(
    {
      (azurerm_kubernetes_cluster.this.default_node_pool[0].name) = {
        count  = azurerm_kubernetes_cluster.this.default_node_pool[0].node_count
        labels = var.system_pool.labels
        zones  = var.system_pool.zones
      }
    },
    {
      for name, pool in merge(azurerm_kubernetes_cluster_node_pool.this, azurerm_kubernetes_cluster_node_pool.autoscaled) : name => {
        count  = local.node_pools[name].count
        labels = local.node_pools[name].labels
        zones  = local.node_pools[name].zones
      }
    },
  )
}
