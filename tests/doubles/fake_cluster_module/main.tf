# Test double of a cluster module (terraform/azure, aws, gcp) for the cluster CRUD suite, with
# Terraform's built-in resources only: the variables the plugin and a suite give a cluster module,
# a pool as a terraform_data keyed by its name, and each of its nodes as one keyed
# "<pool>-<index>" that takes a moment to create and writes a file of that name into
# fake_nodes_dir (removed with it): the nodes the fake API server lists.

variable "cluster_name" { type = string }
variable "run_id" { type = string }
variable "scenario" { type = string }
variable "owner" { type = string }
variable "deletion_delay" { type = string }
variable "system_pool" {
  type    = any
  default = {}
}
variable "node_pools" {
  type = list(object({
    name         = string
    count        = number
    machine_size = string
    labels       = optional(map(string), {})
  }))
  default = []
}
variable "fake_kubeconfig" { type = string }
variable "fake_nodes_dir" { type = string }

locals {
  pools = { for pool in var.node_pools : pool.name => pool }
  nodes = merge([for pool in var.node_pools : { for index in range(pool.count) : "${pool.name}-${index}" => pool.name }]...)
}

resource "terraform_data" "pool" {
  for_each = local.pools
  input    = each.value
}

resource "terraform_data" "node" {
  for_each = local.nodes
  input    = { pool = each.value, file = "${var.fake_nodes_dir}/${each.key}" }

  provisioner "local-exec" {
    command     = "sleep 0.3 && touch \"$FILE\""
    environment = { FILE = self.input.file }
  }
  provisioner "local-exec" {
    when        = destroy
    command     = "rm -f \"$FILE\""
    environment = { FILE = self.input.file }
  }

  depends_on = [terraform_data.pool]
}

output "kubeconfig" {
  value     = var.fake_kubeconfig
  sensitive = true
}

output "node_pools" {
  value = { for name, pool in local.pools : name => { count = pool.count, labels = pool.labels } }
}
