"""A planted secret canary never reaches the results, the JUnit file or the terminal."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import yaml

from pytest_telescope.redact import Redactor

REPO = Path(__file__).resolve().parents[1]

SUITE = '''
import os, stat
from pathlib import Path
import pytest
from pytest_telescope import Sample


@pytest.mark.scenario("iperf3.yaml")
def test_state_is_private(target, case, record_samples):
    (target_dir,) = Path(".telescope").glob("*/local")
    for directory in [Path(".telescope"), target_dir.parent, target_dir, target_dir / "work", target_dir / "target"]:
        assert stat.S_IMODE(directory.stat().st_mode) & 0o077 == 0, directory
    record_samples(Sample("login", 1, "count", {"user": os.environ["AZURE_CLIENT_SECRET"]}))


@pytest.mark.scenario("iperf3.yaml")
def test_tool_prints_the_secret(target, case, record_samples):
    (client,) = target.endpoints("client")
    client.run(["sh", "-c", 'echo "token=$AZURE_CLIENT_SECRET"; echo "auth failed for $AWS_SESSION_TOKEN" >&2; exit 3'])
'''

WRAPPER = '''
variable "name" { type = string }
variable "mode" { type = string }
variable "state_dir" { type = string }
variable "canary" { type = string }

module "local" {
  source    = "%s"
  name      = var.name
  mode      = var.mode
  state_dir = var.state_dir
}

output "mode" { value = module.local.mode }
output "endpoints" { value = module.local.endpoints }
output "scratch_dir" { value = module.local.scratch_dir }
output "status_file" { value = module.local.status_file }
output "kubeconfig" {
  value     = "apiVersion: v1\\nusers:\\n- user:\\n    token: ${var.canary}\\n"
  sensitive = true
}
'''


def test_canaries_stay_out_of_every_output(tmp_path):
    canaries = {name: f"canary-{name.lower()}-{secrets.token_hex(8)}" for name in ("AZURE_CLIENT_SECRET", "AWS_SESSION_TOKEN", "TF_VAR_canary")}
    module = tmp_path / "modules" / "local"
    module.mkdir(parents=True)
    (module / "main.tf").write_text(WRAPPER % (REPO / "pytest_telescope" / "terraform" / "local"))
    (tmp_path / "test_suite.py").write_text(SUITE)
    (tmp_path / "iperf3.yaml").write_text("benchmark: iperf3\nclouds: [local]\n")
    (tmp_path / "pytest.ini").write_text(f"[pytest]\ntelescope_terraform_dir = {tmp_path / 'modules'}\ntelescope_prometheus = off\n")

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:terraform", "-p", "no:cacheprovider", "-v", "-s", "-m", "local"],
        cwd=tmp_path, env={**os.environ, **canaries}, capture_output=True, text=True, timeout=300,
    )

    output = result.stdout + result.stderr
    assert "1 failed, 1 passed" in output, output
    assert "[REDACTED]" in output  # the failing tool's output was there, scrubbed
    (run_dir,) = (tmp_path / "results").iterdir()
    written = {path.name: path.read_text() for path in run_dir.iterdir()}
    assert set(written) == {"results.jsonl", "junit.xml", "report.html"}
    assert all("[REDACTED]" in written[name] for name in ("results.jsonl", "junit.xml", "report.html"))
    for name, canary in canaries.items():
        assert canary not in output, f"{name} reached the terminal"
        for file, text in written.items():
            assert canary not in text, f"{name} reached {file}"


def test_of_a_kubeconfig_only_its_credentials_are_secret():
    kubeconfig = yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "bench",
        "clusters": [{"name": "bench", "cluster": {"server": "https://bench-dns.hcp.eastus2.azmk8s.io:443"}}],
        "users": [
            {"name": "admin", "user": {"client-certificate-data": "Q0VSVC1jYW5hcnk=", "client-key-data": "S0VZLWNhbmFyeQ==",
                                       "token": "token-canary-7c1d"}},
            {"name": "sso", "user": {"auth-provider": {"config": {"refresh-token": "refresh-canary-2b9e"}}}},
            {"name": "plugin", "user": {"exec": {"command": "kubelogin", "env": [{"name": "AZURE_SECRET", "value": "exec-canary-88aa"},
                                                                             {"name": "AWS_PROFILE", "value": "default"}]}}},
        ],
        "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "admin"}}],
    })
    redactor = Redactor()
    redactor.add_sensitive_outputs({"kubeconfig": {"value": kubeconfig, "sensitive": True}})

    scrubbed = redactor.scrub(kubeconfig)

    for canary in ("Q0VSVC1jYW5hcnk=", "S0VZLWNhbmFyeQ==", "token-canary-7c1d", "refresh-canary-2b9e", "exec-canary-88aa"):
        assert canary not in scrubbed
    assert "kind: Config" in scrubbed and "bench-dns.hcp.eastus2.azmk8s.io" in scrubbed  # ordinary text stays readable
    assert redactor.scrub("test_fio[eks-default]") == "test_fio[eks-default]"  # AWS_PROFILE=default is no secret
    assert Redactor().add_kubeconfig("users: oops\n") is None  # a malformed kubeconfig has no credentials, and no traceback
