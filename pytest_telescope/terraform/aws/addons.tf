# EKS add-ons: the EBS CSI driver, which every EBS volume of a PersistentVolumeClaim needs (the
# in-tree kubernetes.io/aws-ebs provisioner of EKS's gp2 class hands its work to this driver
# since Kubernetes 1.23), and the Pod Identity agent that gives the driver its IAM role.
# Both after the node groups: an add-on's pods need nodes before the add-on becomes ACTIVE.

locals {
  # The add-on's defaultStorageClass option creates this class (aws-ebs-csi-driver Helm chart,
  # templates/storageclass.yaml): no parameters, so the driver's default volume type, gp3.
  ebs_storage_class = "ebs-csi-default-sc"
  pod_identity_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "pods.eks.amazonaws.com" }
      Action    = ["sts:AssumeRole", "sts:TagSession"]
    }]
  })
}

resource "aws_eks_addon" "pod_identity_agent" {
  cluster_name = aws_eks_cluster.this.name
  addon_name   = "eks-pod-identity-agent"
  tags         = local.tags

  depends_on = [aws_eks_node_group.this, aws_eks_node_group.autoscaled]
}

resource "aws_iam_role" "ebs_csi" {
  name               = "${var.cluster_name}-ebs-csi"
  tags               = local.tags
  assume_role_policy = local.pod_identity_trust
}

resource "aws_iam_role_policy_attachment" "ebs_csi" {
  role       = aws_iam_role.ebs_csi.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
}

resource "aws_eks_pod_identity_association" "ebs_csi" {
  cluster_name    = aws_eks_cluster.this.name
  namespace       = "kube-system"
  service_account = "ebs-csi-controller-sa"
  role_arn        = aws_iam_role.ebs_csi.arn
  tags            = local.tags
}

resource "aws_eks_addon" "ebs_csi" {
  cluster_name         = aws_eks_cluster.this.name
  addon_name           = "aws-ebs-csi-driver"
  configuration_values = jsonencode({ defaultStorageClass = { enabled = true } })
  tags                 = local.tags

  depends_on = [
    aws_eks_node_group.this,
    aws_eks_node_group.autoscaled,
    aws_eks_addon.pod_identity_agent,
    aws_eks_pod_identity_association.ebs_csi,
    aws_iam_role_policy_attachment.ebs_csi,
  ]
}

# The cluster autoscaler's IAM role, when a pool autoscales: the permissions of the upstream
# AWS guide (kubernetes/autoscaler, cluster-autoscaler/cloudprovider/aws/README.md), for the
# service account kube-system/cluster-autoscaler of the manifests in output autoscaler_manifests.

resource "aws_iam_role" "cluster_autoscaler" {
  count = module.node_pools.autoscaled ? 1 : 0

  name               = "${var.cluster_name}-autoscaler"
  tags               = local.tags
  assume_role_policy = local.pod_identity_trust
}

resource "aws_iam_role_policy" "cluster_autoscaler" {
  count = module.node_pools.autoscaled ? 1 : 0

  name = "cluster-autoscaler"
  role = aws_iam_role.cluster_autoscaler[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect = "Allow"
        Action = [
          "autoscaling:DescribeAutoScalingGroups",
          "autoscaling:DescribeAutoScalingInstances",
          "autoscaling:DescribeLaunchConfigurations",
          "autoscaling:DescribeScalingActivities",
          "autoscaling:DescribeTags",
          "ec2:DescribeImages",
          "ec2:DescribeInstanceTypes",
          "ec2:DescribeLaunchTemplateVersions",
          "ec2:GetInstanceTypesFromInstanceRequirements",
          "eks:DescribeNodegroup",
        ]
        Resource = "*"
      },
      {
        Effect   = "Allow"
        Action   = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
        Resource = "*"
        Condition = {
          StringEquals = { "aws:ResourceTag/k8s.io/cluster-autoscaler/${var.cluster_name}" = "owned" }
        }
      },
    ]
  })
}

resource "aws_eks_pod_identity_association" "cluster_autoscaler" {
  count = module.node_pools.autoscaled ? 1 : 0

  cluster_name    = aws_eks_cluster.this.name
  namespace       = "kube-system"
  service_account = "cluster-autoscaler"
  role_arn        = aws_iam_role.cluster_autoscaler[0].arn
  tags            = local.tags

  depends_on = [aws_eks_addon.pod_identity_agent]
}
