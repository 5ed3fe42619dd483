variable "name" {
  description = "Short name of this target, unique among the targets that exist at the same time on this host (1-8 chars of [a-z0-9]). Used in namespace (telescope-<name>-server/-client) and interface (ts<name>s/ts<name>c) names."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]{1,8}$", var.name))
    error_message = "name must be 1-8 characters of [a-z0-9] (it becomes part of namespace and interface names, which are limited to 15 characters)."
  }
}

variable "mode" {
  description = "\"netns\": a server and a client network namespace joined by a veth pair (needs root; supports shaping). \"loopback\": no namespaces, both endpoints on 127.0.0.1, only the directories are created (no root needed)."
  type        = string
  nullable    = false

  validation {
    condition     = contains(["netns", "loopback"], var.mode)
    error_message = "mode must be \"netns\" or \"loopback\"."
  }
}

variable "state_dir" {
  description = "Absolute path of a directory owned by this module: created with mode 0700 (an existing empty directory is adopted), holds status.json, and is removed with everything in it at destroy. A non-empty directory not created by this module is refused."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^(/[^/\\x00-\\x1f]+)+$", var.state_dir)) && !can(regex("/\\.\\.?(/|$)", var.state_dir))
    error_message = "state_dir must be an absolute, normalised path other than \"/\" (no trailing slash, no \"//\", \".\" or \"..\" segments, no control characters)."
  }
}

variable "scratch_dir" {
  description = "Directory for storage benchmarks (created if missing). Empty (default) means <state_dir>/scratch, which is removed at destroy together with state_dir; a directory given here is created but never removed."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.scratch_dir == "" || (can(regex("^(/[^/\\x00-\\x1f]+)+$", var.scratch_dir)) && !can(regex("/\\.\\.?(/|$)", var.scratch_dir)))
    error_message = "scratch_dir must be empty or an absolute, normalised path other than \"/\" (no trailing slash, no \"//\", \".\" or \"..\" segments, no control characters)."
  }
}

variable "rate_mbit" {
  description = "Link rate in Mbit/s applied with tbf on the egress of both veth ends (netns mode only). It is the rate of Ethernet frames, like a NIC's link speed, so TCP goodput is about 95-96% of it at MTU 1500. 0 = no shaping."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.rate_mbit >= 0 && var.rate_mbit <= 100000
    error_message = "rate_mbit must be between 0 (no shaping) and 100000."
  }
}

variable "delay_ms" {
  description = "One-way delay in ms added with netem on the egress of both veth ends (so the RTT grows by 2 x delay_ms). 0 = none. If the kernel has no netem the apply still succeeds and status.json records impairment.available = false with the reason."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.delay_ms >= 0 && var.delay_ms <= 60000
    error_message = "delay_ms must be between 0 and 60000."
  }
}

variable "loss_percent" {
  description = "Random packet loss in percent added with netem on the egress of both veth ends (each direction). 0 = none. Unavailable without netem, like delay_ms."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.loss_percent >= 0 && var.loss_percent <= 100
    error_message = "loss_percent must be between 0 and 100."
  }
}
