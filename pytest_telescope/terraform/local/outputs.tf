# Every output depends on terraform_data.target, so a consumer that reads an
# output also waits for the target to exist (status.json is written by then).

output "mode" {
  description = "\"netns\" or \"loopback\", as requested."
  value       = var.mode
  depends_on  = [terraform_data.target]
}

output "endpoints" {
  description = "Where to run the server and the client side of a benchmark: {server = {namespace, address, interface}, client = {...}}. In netns mode: namespaces telescope-<name>-server/-client, addresses 10.200.0.1 and 10.200.0.2 (/24), interfaces ts<name>s/ts<name>c. In loopback mode: namespace null, address 127.0.0.1, interface \"lo\"."
  value       = local.endpoints
  depends_on  = [terraform_data.target]
}

output "scratch_dir" {
  description = "Directory for storage benchmarks (exists after apply)."
  value       = local.scratch_dir
  depends_on  = [terraform_data.target]
}

output "state_dir" {
  description = "Directory owned by this module (mode 0700); removed at destroy."
  value       = var.state_dir
  depends_on  = [terraform_data.target]
}

output "status_file" {
  description = "Path of status.json: the runtime facts written by target.sh (what was actually applied; see README.md)."
  value       = local.status_file
  depends_on  = [terraform_data.target]
}

output "shaping" {
  description = "Requested link conditions: {rate_mbit, delay_ms, loss_percent}. What was actually applied is in status_file."
  value = {
    rate_mbit    = var.rate_mbit
    delay_ms     = var.delay_ms
    loss_percent = var.loss_percent
  }
  depends_on = [terraform_data.target]
}
