output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = aws_eks_cluster.this.name
}

output "region" {
  description = "AWS region of the cluster."
  value       = var.region
}

output "kubernetes_version" {
  description = "Kubernetes version the control plane runs."
  value       = aws_eks_cluster.this.version
}

output "vpc_id" {
  description = "Id of the VPC created for the cluster."
  value       = aws_vpc.this.id
}

output "kubeconfig" {
  description = "Kubeconfig (YAML) whose user runs `aws eks get-token` (exec plugin, client.authentication.k8s.io/v1beta1): the AWS CLI v2 must be on PATH with the credentials that applied this module (the cluster's admin). The Python kubernetes client and kubectl run it themselves."
  value       = module.kubeconfig.kubeconfig
  sensitive   = true
}

output "node_pools" {
  description = "Every node group, the system group included: name => {count, labels, zones}. Nodes carry the EKS label eks.amazonaws.com/nodegroup=<name>."
  value = {
    for name, group in aws_eks_node_group.this : name => {
      count  = group.scaling_config[0].desired_size
      labels = module.node_pools.pools[name].labels
      zones  = module.node_pools.pools[name].zones
    }
  }
}
