"""A planted secret canary never reaches the results, the JUnit file or the terminal."""

import os
import secrets
import subprocess
import sys

import yaml
from doubles.own_terraform import wrapped_local_module

from pytest_telescope.redact import Redactor

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

# A kubeconfig output that holds a canary: Terraform marks it sensitive, and it must stay out of every output.
KUBECONFIG_OUTPUT = '''
variable "canary" { type = string }

output "kubeconfig" {
  value     = "apiVersion: v1\\nusers:\\n- user:\\n    token: ${var.canary}\\n"
  sensitive = true
}
'''


def test_canaries_stay_out_of_every_output(tmp_path):
    canaries = {name: f"canary-{name.lower()}-{secrets.token_hex(8)}" for name in ("AZURE_CLIENT_SECRET", "AWS_SESSION_TOKEN", "TF_VAR_canary")}
    modules = wrapped_local_module(tmp_path / "modules", KUBECONFIG_OUTPUT)
    (tmp_path / "test_suite.py").write_text(SUITE)
    (tmp_path / "iperf3.yaml").write_text("benchmark: iperf3\nclouds: [local]\n")
    (tmp_path / "pytest.ini").write_text(f"[pytest]\ntelescope_terraform_dir = {modules}\ntelescope_prometheus = off\n")

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


CAPTURED_SUITE = '''
import logging, os, sys, warnings
import pytest
import yaml
from pytest_telescope import Sample


def secrets():
    token = yaml.safe_load(open("kubeconfig.yaml"))["users"][0]["user"]["token"]
    return [os.environ["AZURE_CLIENT_SECRET"], token]


def say_them():
    for secret in secrets():
        print(f"stdout {secret}")
        print(f"stderr {secret}", file=sys.stderr)
        logging.getLogger("bench").warning("log %s", secret)


def test_passes_and_prints(record_samples):
    say_them()
    warnings.warn(f"warning {secrets()[0]} {secrets()[1]}")
    record_samples(Sample("m", 1.0, "count"))


def test_misses_its_slo_and_prints(record_samples):
    say_them()
    record_samples(Sample("m", 1.0, "count"))
    record_samples.expect("m", min=2, unit="count")


@pytest.mark.scenario("iperf3.yaml")
def test_tool_fails_and_prints(target, case):
    say_them()
    target.endpoint("client").run(["sh", "-c", "exit 3"])
'''


def test_canaries_stay_out_of_captured_output_logs_warnings_and_passing_tests(tmp_path):
    """Without -s pytest shows what a test printed and logged (of every test with -rA) and the warnings;
    a kubeconfig given with a local run is read for its credentials all the same."""
    canaries = {name: f"canary-{name.lower()}-{secrets.token_hex(8)}" for name in ("AZURE_CLIENT_SECRET", "kubeconfig")}
    kubeconfig = {"apiVersion": "v1", "kind": "Config", "users": [{"name": "u", "user": {"token": canaries["kubeconfig"]}}]}
    (tmp_path / "kubeconfig.yaml").write_text(yaml.safe_dump(kubeconfig))
    (tmp_path / "test_suite.py").write_text(CAPTURED_SUITE)
    (tmp_path / "iperf3.yaml").write_text("benchmark: iperf3\nclouds: [local]\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\ntelescope_prometheus = off\n")

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:terraform", "-p", "no:cacheprovider", "-rA",
         "--telescope-kubeconfig", "kubeconfig.yaml"],
        cwd=tmp_path, env={**os.environ, "AZURE_CLIENT_SECRET": canaries["AZURE_CLIENT_SECRET"]},
        capture_output=True, text=True, timeout=300,
    )

    output = result.stdout + result.stderr
    assert "2 failed, 1 passed, 1 warning" in output, output
    for section in ("Captured stdout call", "Captured stderr call", "Captured log call", "warnings summary", "PASSED"):
        assert section in output, section
    assert output.count("[REDACTED]") >= 20, output  # each place shows the scrubbed text, not nothing
    for name, canary in canaries.items():
        assert canary not in output, f"{name} reached the terminal"


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
