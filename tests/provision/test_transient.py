"""Transient provisioning errors are retried, a bounded number of times, each retry said on one line."""

import subprocess
from pathlib import Path

import pytest

from pytest_telescope.progress import Progress
from pytest_telescope.provision import terraform, transient
from pytest_telescope.provision.terraform import TerraformRunner
from pytest_telescope.redact import Redactor

FAKE_TERRAFORM = Path(__file__).resolve().parents[1] / "doubles" / "fake_terraform"


@pytest.fixture
def fake_terraform(tmp_path, monkeypatch):
    """``terraform`` on PATH is the double; retries wait no time. Yields the calls it logged."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "terraform").symlink_to(FAKE_TERRAFORM)
    log = tmp_path / "calls.log"
    log.touch()
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_TERRAFORM_LOG", str(log))
    monkeypatch.setattr(transient, "RETRY_DELAYS", (0.0, 0.0, 0.0))
    monkeypatch.setattr(terraform.time, "sleep", lambda seconds: None)
    return lambda: [line.split()[0] for line in log.read_text().splitlines()]


def runner(tmp_path) -> tuple[TerraformRunner, list[str]]:
    said = []
    module = tmp_path / "module"
    module.mkdir(exist_ok=True)
    progress = Progress(said.append, Redactor())
    return TerraformRunner(module, tmp_path / "work", {}, progress, "aks (node_pools=...)"), said


def test_azures_409_twice_is_retried_and_the_third_apply_succeeds(tmp_path, fake_terraform, monkeypatch):
    monkeypatch.setenv("FAKE_TERRAFORM_CONFLICTS", "2")
    tf, said = runner(tmp_path)
    tf.init()
    tf.apply()
    # each retry plans again: a partly applied plan is stale
    assert fake_terraform() == ["init", "plan", "apply", "plan", "apply", "plan", "apply"]
    retries = [line for line in said if "retry" in line]
    assert retries == [
        "[telescope] terraform apply of aks (node_pools=...): Azure: another operation on the cluster is in progress (409); retry 1 of 3 in 0 s",
        "[telescope] terraform apply of aks (node_pools=...): Azure: another operation on the cluster is in progress (409); retry 2 of 3 in 0 s",
    ]
    # and they are samples of the provisioning's own test, in JSONL, JUnit and the report
    (retried,) = [sample for sample in tf.samples("provision", {"cloud": "aks"}) if sample.metric == "provision_retries"]
    assert retried.value == 2 and retried.labels["cause"] == "Azure: another operation on the cluster is in progress (409)"


def test_retries_are_bounded_then_the_error_is_raised(tmp_path, fake_terraform, monkeypatch):
    monkeypatch.setenv("FAKE_TERRAFORM_CONFLICTS", "9")
    tf, said = runner(tmp_path)
    with pytest.raises(subprocess.CalledProcessError) as error:
        tf.apply()
    assert "Another operation is in progress" in error.value.stderr
    # 1 + 3 applies, then pytest-terraform destroys what the last one left (the double refuses)
    assert fake_terraform() == ["plan", "apply"] * 4 + ["destroy"]
    assert len([line for line in said if "retry" in line]) == 3


def test_an_error_that_is_not_transient_is_not_retried(tmp_path, fake_terraform):
    tf, said = runner(tmp_path)
    with pytest.raises(subprocess.CalledProcessError):
        tf.destroy()
    assert fake_terraform() == ["destroy"]
    assert not [line for line in said if "retry" in line]


@pytest.mark.parametrize(
    "output, meaning",
    [
        ("ERROR: (OperationNotAllowed) Operation is not allowed because there's an\nin-progress PutExtensionAddonHandler.PUT operation", "Azure: an operation"),
        ('Status=429 Code="RetryableError" Message="A retryable error occured."', "Azure: throttled"),
        ("api error ThrottlingException: Rate exceeded", "AWS: API throttling"),
        ("ResourceInUseException: Nodegroup is currently being updated", "AWS EKS"),
        ("googleapi: Error 429: Quota exceeded, rateLimitExceeded", "GCP: API rate limit"),
        ("googleapi: Error 400: Cluster is running incompatible operation operation-123., failedPrecondition", "GKE"),
    ],
)
def test_each_transient_error_of_the_table_is_known(output, meaning):
    assert transient.transient_cause(output).startswith(meaning)


@pytest.mark.parametrize("output", ["Error: Unauthorized: AuthorizationFailed", "ZONE_RESOURCE_POOL_EXHAUSTED", "InvalidParameterValue"])
def test_other_errors_are_not_transient(output):
    assert transient.transient_cause(output) is None


def test_every_transient_error_names_its_source():
    assert all(entry.source and entry.meaning for entry in transient.TRANSIENT)
