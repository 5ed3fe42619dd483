variable "run_id" {
  description = "Id of the benchmark run; the run_id tag."
  type        = string
  nullable    = false
}

variable "scenario" {
  description = "Name of the scenario (suite) the resources are for; the scenario tag."
  type        = string
  nullable    = false
}

variable "owner" {
  description = "Team or person accountable for the resources; the owner tag."
  type        = string
  nullable    = false
}

variable "deletion_delay" {
  description = "Terraform duration (\"90m\", \"2h\") added to creation_time to give the deletion_due_time tag."
  type        = string
  nullable    = false
}

variable "extra_tags" {
  description = "Further tags; run_id, scenario, owner, creation_time and deletion_due_time win over these."
  type        = map(string)
  default     = {}
  nullable    = false
}
