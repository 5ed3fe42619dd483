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
    for name, group in merge(aws_eks_node_group.this, aws_eks_node_group.autoscaled) : name => {
      count  = module.node_pools.pools[name].count
      labels = module.node_pools.pools[name].labels
      zones  = module.node_pools.pools[name].zones
    }
  }
}

output "storage_classes" {
  description = "StorageClasses the module's add-ons create: ebs-csi-default-sc (the aws-ebs-csi-driver add-on's default class: provisioner ebs.csi.aws.com, gp3 volumes, WaitForFirstConsumer)."
  value       = [local.ebs_storage_class]
}

output "manifests" {
  description = "Kubernetes objects (multi-document YAML) the plugin creates in the cluster once it is up, before validation: the cluster autoscaler when a pool autoscales, else empty."
  value = module.node_pools.autoscaled ? templatefile("${path.module}/cluster-autoscaler.yaml.tftpl", {
    cluster_name       = aws_eks_cluster.this.name
    region             = var.region
    kubernetes_version = aws_eks_cluster.this.version
  }) : ""
}
