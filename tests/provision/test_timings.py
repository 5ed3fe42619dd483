"""Provisioning as a benchmark: Terraform's JSON UI timed per resource, and each target judged as a test."""

import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pytest_telescope.history.baseline import Tolerance
from pytest_telescope.progress import Progress
from pytest_telescope.provision.terraform import TerraformRunner, human, resource_durations
from pytest_telescope.redact import Redactor
from pytest_telescope.samples import Sample
from pytest_telescope.verdict import provisioning

DATA = Path(__file__).resolve().parents[1] / "data"


def test_each_resource_is_timed_from_its_start_to_its_completion():
    applied = resource_durations((DATA / "terraform-1.11-apply.jsonl").read_text())
    assert [(change.address, change.action) for change in applied] == [("terraform_data.a", "create"), ("terraform_data.b", "create")]
    # terraform_data.a ran `sleep 1` in a local-exec provisioner; Terraform's elapsed_seconds says only 1.
    assert applied[0].seconds == pytest.approx(1.007086, abs=1e-6)
    # Its apply_start: "2026-11-27T11:52:08.898450Z".
    assert applied[0].started == datetime(2026, 11, 27, 11, 52, 8, 898450, tzinfo=timezone.utc).timestamp()
    destroyed = resource_durations((DATA / "terraform-1.11-destroy.jsonl").read_text())
    assert [(change.address, change.action) for change in destroyed] == [("terraform_data.b", "delete"), ("terraform_data.a", "delete")]


def test_an_errored_resource_has_no_duration_and_its_error_reads_as_text():
    output = (DATA / "terraform-1.11-apply-errored.jsonl").read_text()
    assert resource_durations(output) == []
    lines = [human(line) for line in output.splitlines()]
    assert "Error: local-exec provisioner error: Error running command 'exit 3': exit status 3. Output: " in lines
    assert human("plain text stays") == "plain text stays"


@pytest.fixture
def module(tmp_path):
    directory = tmp_path / "module"
    directory.mkdir()
    (directory / "main.tf").write_text('resource "terraform_data" "a" {}\nresource "terraform_data" "b" {\n  input = terraform_data.a.id\n}\n')
    return directory


def test_a_real_apply_and_destroy_give_their_samples(module, tmp_path, monkeypatch):
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "empty.tfrc"))
    (tmp_path / "empty.tfrc").write_text("")
    progress = Progress(lambda text: None, Redactor())
    labels = {"cloud": "local", "module": "module"}
    applying = TerraformRunner(module, tmp_path / "work", {}, progress, "test")
    applying.init()
    applying.apply()
    applied = applying.samples("provision", labels)
    destroying = TerraformRunner(module, tmp_path / "work", {}, progress, "test")
    destroying.destroy()
    destroyed = destroying.samples("destroy", labels)

    assert applied[0].metric == "provision_duration" and applied[0].unit == "s" and applied[0].labels == labels
    assert applied[0].value >= sum(s.value for s in applied[1:])
    assert [(s.metric, s.labels["address"], s.labels["action"]) for s in applied[1:]] == [
        ("resource_duration", "terraform_data.a", "create"),
        ("resource_duration", "terraform_data.b", "create"),
    ]
    assert destroyed[0].metric == "destroy_duration"
    assert {s.labels["action"] for s in destroyed[1:]} == {"delete"}
    assert TerraformRunner(module, tmp_path / "other", {}, progress, "test").samples("destroy", labels) == []


def test_a_failed_apply_keeps_terraforms_message_readable(tmp_path, monkeypatch):
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "empty.tfrc"))
    (tmp_path / "empty.tfrc").write_text("")
    module = tmp_path / "failing"
    module.mkdir()
    (module / "main.tf").write_text('resource "terraform_data" "a" {\n  provisioner "local-exec" {\n    command = "exit 3"\n  }\n}\n')
    runner = TerraformRunner(module, tmp_path / "work", {}, Progress(lambda text: None, Redactor()), "test")
    runner.init()
    with pytest.raises(subprocess.CalledProcessError) as failed:
        runner.apply()
    assert "Error running command 'exit 3': exit status 3" in failed.value.stdout
    assert '"@level"' not in failed.value.stdout
    assert runner.samples("provision", {"cloud": "local", "module": "failing"})[0].value > 0


PROVISIONING = {"metrics": provisioning.METRICS, "judged": provisioning.JUDGED}
SAMPLES = [
    Sample("provision_duration", 40.0, "s", {"cloud": "local", "module": "local"}),
    Sample("destroy_duration", 3.0, "s", {"cloud": "local", "module": "local"}),
]


def test_provisioning_passes_or_fails_its_thresholds():
    limit = {"metric": "provision_duration", "op": "<=", "limit": 60.0, "unit": "s", "clouds": ["local"]}
    outcome, message, data = provisioning.judge("local", SAMPLES, [limit], None, **PROVISIONING)
    assert (outcome, message) == ("passed", None)
    assert data["benchmark"] == "provision" and data["cloud"] == "local" and data["case"] == "local"
    assert data["samples"][0]["slo"] == {"verdict": "pass", "thresholds": ["provision_duration <= 60 s"]}

    outcome, message, _ = provisioning.judge("local", SAMPLES, [{**limit, "limit": 30.0}], None, **PROVISIONING)
    assert outcome == "failed"
    assert message == "1 SLO violation: provision_duration cloud=local module=local = 40 s, expected <= 30 s"


def test_a_failed_apply_fails_its_test_with_the_error_and_keeps_the_samples():
    outcome, message, data = provisioning.judge("aks-1234abcd", SAMPLES[:1], [], "terraform apply failed (status 1)", **PROVISIONING)
    assert (outcome, message) == ("failed", "terraform apply failed (status 1)")
    assert [s["metric"] for s in data["samples"]] == ["provision_duration"]


def test_provisioning_slower_than_the_baseline_is_a_regression():
    before = [
        {"test": "telescope::provision[local]", "params": {}, "metric": "provision_duration", "labels": {"cloud": "local", "module": "local"},
         "value": value, "unit": "s", "benchmark": "provision", "better": "lower", "judged": True, "run_id": f"r{value}"}
        for value in (10.0, 10.5, 11.0)
    ]
    outcome, message, _ = provisioning.judge("local", SAMPLES[:1], [], None, **PROVISIONING, baseline_rows=before, tolerance=Tolerance())
    assert outcome == "failed" and "provision_duration" in message and "lower is better" in message
