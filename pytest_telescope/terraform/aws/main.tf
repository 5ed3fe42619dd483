provider "aws" {
  region = var.region
}

data "aws_partition" "current" {}

# The region's zones, read only when var.zones names none. EKS does not place
# control plane interfaces in some zones (the EKS user guide, "View Amazon EKS
# networking requirements"), so those are left out.
data "aws_availability_zones" "available" {
  count = length(var.zones) == 0 ? 1 : 0

  state            = "available"
  exclude_zone_ids = ["use1-az3", "usw1-az2", "cac1-az3"]

  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

module "node_pools" {
  source = "../modules/node-pools"

  system_pool = var.system_pool
  node_pools  = var.node_pools
  # A pool that names no zone is in the first one: a same-zone benchmark stays in one zone.
  default_zones = [local.zones[0]]
}

locals {
  # EKS needs subnets in two zones at least.
  zones = length(var.zones) > 0 ? var.zones : slice(sort(data.aws_availability_zones.available[0].names), 0, 2)

  kubeconfig_cluster = {
    name     = aws_eks_cluster.this.name
    endpoint = aws_eks_cluster.this.endpoint
    ca_data  = aws_eks_cluster.this.certificate_authority[0].data
  }
}

# Network: a VPC with one public subnet per zone and an internet gateway.
# Nodes get public IPs, so no NAT gateway is needed.

resource "aws_vpc" "this" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = merge(local.tags, { Name = var.cluster_name })
}

resource "aws_subnet" "this" {
  for_each = { for index, zone in local.zones : zone => index }

  vpc_id                  = aws_vpc.this.id
  availability_zone       = each.key
  cidr_block              = cidrsubnet(var.vpc_cidr, 4, each.value)
  map_public_ip_on_launch = true
  tags = merge(local.tags, {
    Name                                        = "${var.cluster_name}-${each.key}"
    "kubernetes.io/cluster/${var.cluster_name}" = "shared"
    "kubernetes.io/role/elb"                    = "1"
  })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(local.tags, { Name = var.cluster_name })
}

resource "aws_route_table" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(local.tags, { Name = var.cluster_name })

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this.id
  }
}

resource "aws_route_table_association" "this" {
  for_each = aws_subnet.this

  subnet_id      = each.value.id
  route_table_id = aws_route_table.this.id
}

# IAM: the roles of the control plane and of the nodes, with AWS managed policies.

resource "aws_iam_role" "cluster" {
  name = "${var.cluster_name}-cluster"
  tags = local.tags
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "eks.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonEKSClusterPolicy"
}

resource "aws_iam_role" "node" {
  name = "${var.cluster_name}-node"
  tags = local.tags
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_iam_role_policy_attachment" "node" {
  for_each = toset(["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"])

  role       = aws_iam_role.node.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/${each.value}"
}

# Cluster and node groups.

resource "aws_eks_cluster" "this" {
  name     = var.cluster_name
  role_arn = aws_iam_role.cluster.arn
  version  = var.kubernetes_version
  tags     = local.tags

  vpc_config {
    subnet_ids              = [for subnet in aws_subnet.this : subnet.id]
    endpoint_public_access  = true
    endpoint_private_access = true
  }

  # Access entries only: the identity that applies this module is cluster
  # admin, and EKS adds the node role's entry for managed node groups.
  access_config {
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = true
  }

  depends_on = [aws_iam_role_policy_attachment.cluster]
}

# A launch template per node group, to set the OS disk and to tag the
# instances, volumes and network interfaces the node group creates.
resource "aws_launch_template" "this" {
  for_each = module.node_pools.pools

  name                   = "${var.cluster_name}-${each.key}"
  update_default_version = true
  tags                   = local.tags

  dynamic "block_device_mappings" {
    for_each = each.value.os_disk_size_gb != null || each.value.os_disk_type != null ? [each.value] : []
    content {
      device_name = "/dev/xvda"
      ebs {
        volume_size           = block_device_mappings.value.os_disk_size_gb
        volume_type           = block_device_mappings.value.os_disk_type
        delete_on_termination = true
      }
    }
  }

  dynamic "tag_specifications" {
    for_each = ["instance", "volume", "network-interface"]
    content {
      resource_type = tag_specifications.value
      tags          = local.tags
    }
  }

  lifecycle {
    precondition {
      condition     = alltrue([for zone in each.value.zones : contains(local.zones, zone)])
      error_message = "Node pool ${each.key}: zones ${jsonencode(each.value.zones)} must be among the cluster's zones ${jsonencode(local.zones)}."
    }
  }
}

# Two node group resources, because ignore_changes cannot depend on the pool: the desired size of
# a pool of a fixed size is Terraform's (applied again with another count, the group scales: the
# cluster CRUD suite), that of an autoscaled pool the cluster autoscaler's.
resource "aws_eks_node_group" "this" {
  for_each = { for name, pool in module.node_pools.pools : name => pool if pool.max_count == null }

  cluster_name    = aws_eks_cluster.this.name
  node_group_name = each.key
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = [for zone in each.value.zones : aws_subnet.this[zone].id]
  ami_type        = var.ami_type
  instance_types  = [each.value.machine_size]
  labels          = each.value.labels
  tags            = local.tags

  scaling_config {
    desired_size = each.value.count
    min_size     = each.value.count
    max_size     = max(each.value.count, 1)
  }

  dynamic "taint" {
    for_each = each.value.taints
    content {
      key    = taint.value.key
      value  = taint.value.value == "" ? null : taint.value.value
      effect = module.node_pools.taint_effects[taint.value.effect]
    }
  }

  launch_template {
    id      = aws_launch_template.this[each.key].id
    version = aws_launch_template.this[each.key].latest_version
  }

  # Nodes need their IAM policies and a route to the internet to join;
  # destroying those first would strand the node group's deletion.
  depends_on = [aws_iam_role_policy_attachment.node, aws_route_table_association.this]
}

resource "aws_eks_node_group" "autoscaled" {
  for_each = { for name, pool in module.node_pools.pools : name => pool if pool.max_count != null }

  cluster_name    = aws_eks_cluster.this.name
  node_group_name = each.key
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = [for zone in each.value.zones : aws_subnet.this[zone].id]
  ami_type        = var.ami_type
  instance_types  = [each.value.machine_size]
  labels          = each.value.labels
  tags            = local.tags

  # Starts at count; EKS tags its Auto Scaling group for the cluster autoscaler's auto-discovery
  # (k8s.io/cluster-autoscaler/enabled).
  scaling_config {
    desired_size = each.value.count
    min_size     = each.value.min_count
    max_size     = each.value.max_count
  }

  dynamic "taint" {
    for_each = each.value.taints
    content {
      key    = taint.value.key
      value  = taint.value.value == "" ? null : taint.value.value
      effect = module.node_pools.taint_effects[taint.value.effect]
    }
  }

  launch_template {
    id      = aws_launch_template.this[each.key].id
    version = aws_launch_template.this[each.key].latest_version
  }

  depends_on = [aws_iam_role_policy_attachment.node, aws_route_table_association.this]

  lifecycle {
    # The cluster autoscaler changes the desired size.
    ignore_changes = [scaling_config[0].desired_size]
  }
}
