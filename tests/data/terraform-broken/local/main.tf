# A module whose apply always fails half-way, for the bad-input corpus.
variable "name" { type = string }
variable "mode" { type = string }
variable "state_dir" { type = string }

resource "terraform_data" "fails" {
  provisioner "local-exec" {
    command = "echo 'quota exceeded for ${var.name}' >&2; exit 1"
  }
}
