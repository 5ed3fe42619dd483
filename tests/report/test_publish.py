"""Blob publishing (URL, names, credentials, a round trip through Azurite) and Azure DevOps issues."""

import shutil
import subprocess
import time
from typing import Iterator

import pytest
from azurite_service import AZURITE_ACCOUNT, AZURITE_KEY, connection_string, running_azurite

from pytest_telescope.report.azure_devops import in_azure_devops, logissue
from pytest_telescope.report.publish import (
    BlobDestination,
    PublishError,
    branch_name,
    scenario_name,
    service_client,
    upload_run,
)

# The publish URL


def test_parses_account_container_and_prefix():
    assert BlobDestination.parse("azure-blob://benchstore/perf-results/nightly/v2") == BlobDestination(
        "benchstore", "perf-results", "nightly/v2"
    )


def test_prefix_is_optional_and_its_slashes_are_normalized():
    assert BlobDestination.parse("azure-blob://benchstore/results").prefix == ""
    assert BlobDestination.parse("azure-blob://benchstore/results/").prefix == ""
    assert BlobDestination.parse("azure-blob://benchstore/results//a//b/").prefix == "a/b"


@pytest.mark.parametrize(
    "url, complaint",
    [
        ("https://benchstore.blob.core.windows.net/results", "expected azure-blob://<account>/<container>/<prefix>"),
        ("azure-blob://BenchStore/results", "storage account 'BenchStore' must be 3 to 24 lowercase"),
        ("azure-blob://ab/results", "storage account 'ab' must be"),
        ("azure-blob://bench_store/results", "storage account 'bench_store' must be"),
        ("azure-blob://benchstore", "container '' must be"),
        ("azure-blob://benchstore/Results", "container 'Results' must be"),
        ("azure-blob://benchstore/re--sults", "container 're--sults' must be"),
        ("azure-blob://benchstore/-results", "container '-results' must be"),
        ("azure-blob://benchstore/" + "r" * 64, "container '" + "r" * 64 + "' must be"),
        ("azure-blob://benchstore:443/results", "a port, user, query or fragment has no place"),
        ("azure-blob://benchstore/results?sv=2024", "a port, user, query or fragment has no place"),
    ],
)
def test_a_bad_url_is_an_error_naming_it_and_what_is_wrong(url, complaint):
    with pytest.raises(PublishError) as error:
        BlobDestination.parse(url)
    assert str(error.value).startswith(repr(url) + ": ")
    assert complaint in str(error.value)


# Blob names


def test_blob_name_is_prefix_scenario_branch_run_id():
    destination = BlobDestination("benchstore", "results", "perf/v1")
    assert destination.blob_name("iperf3", "main", "20261123T122302Z-dc5148", "jsonl") == (
        "perf/v1/iperf3/main/20261123T122302Z-dc5148.jsonl"
    )
    assert BlobDestination("benchstore", "results", "").blob_name("fio", "main", "42", "junit.xml") == (
        "fio/main/42.junit.xml"
    )


def test_a_slash_or_space_in_a_name_does_not_add_a_level():
    name = BlobDestination("benchstore", "results", "").blob_name("my scenario", "feature/fast-path", "7", "html")
    assert name == "my-scenario/feature-fast-path/7.html"


def test_scenario_is_the_configured_name_else_the_benchmarks_joined():
    assert scenario_name("network-nightly", ["iperf3"]) == "network-nightly"
    assert scenario_name("", ["iperf3", "fio", "iperf3"]) == "fio+iperf3"
    assert scenario_name("", []) == "unnamed"


def test_branch_comes_from_azure_devops_then_github_then_git(tmp_path):
    both = {"BUILD_SOURCEBRANCHNAME": "main", "GITHUB_REF_NAME": "other"}
    assert branch_name(both, tmp_path) == "main"
    assert branch_name({"GITHUB_REF_NAME": "release-2"}, tmp_path) == "release-2"


def test_branch_outside_any_checkout_is_local(tmp_path):
    assert branch_name({}, tmp_path) == "local"


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_branch_of_a_git_checkout(tmp_path):
    git = ["git", "-C", str(tmp_path), "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "topic/publish"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "start"], check=True)
    assert branch_name({}, tmp_path) == "topic/publish"
    subprocess.run([*git, "checkout", "-q", "--detach"], check=True)
    assert branch_name({}, tmp_path) == "local"


# Credentials


def test_without_a_connection_string_the_client_uses_azure_identity():
    from azure.identity import DefaultAzureCredential

    client = service_client("benchstore", {})
    assert client.url == "https://benchstore.blob.core.windows.net/"
    assert isinstance(client.credential, DefaultAzureCredential)


def test_a_connection_string_for_another_account_is_refused():
    refusal = "is for storage account 'devstoreaccount1', the publish URL names 'benchstore'"
    with pytest.raises(PublishError, match=refusal):
        service_client("benchstore", {"AZURE_STORAGE_CONNECTION_STRING": connection_string(10000)})


def test_a_malformed_connection_string_is_refused_without_showing_it():
    secret = "AccountKey=not-a-connection-string-4f1c9e"
    with pytest.raises(PublishError) as error:
        service_client("benchstore", {"AZURE_STORAGE_CONNECTION_STRING": secret})
    assert str(error.value) == "AZURE_STORAGE_CONNECTION_STRING is not a storage connection string"
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_nothing_to_publish_is_an_error_naming_the_directory(tmp_path):
    with pytest.raises(PublishError, match="none of results.jsonl, junit.xml, report.html to publish"):
        upload_run(
            BlobDestination("benchstore", "results", ""), tmp_path, scenario="s", branch="b", run_id="1", environ={}
        )


# Azure DevOps logging commands


def test_logissue_formats_type_and_source():
    assert logissue("error", "3 SLO violations", source="benchmarks/network/test_iperf3.py") == (
        "##vso[task.logissue type=error;sourcepath=benchmarks/network/test_iperf3.py;]3 SLO violations"
    )
    assert logissue("warning", "throughput regressed") == "##vso[task.logissue type=warning;]throughput regressed"


def test_logissue_escapes_properties_and_message():
    line = logissue("error", "50% slower; see ]\r\nnext line", source="a;b]c%d")
    assert line == (
        "##vso[task.logissue type=error;sourcepath=a%3Bb%5Dc%AZP25d;]50%AZP25 slower; see ]%0D%0Anext line"
    )


@pytest.mark.parametrize(
    "message, source",
    [
        ("test_iperf3[local-tcp]: 1 SLO violation:\n  throughput_received = 95.4 Mbit/s, expected >= 100 Mbit/s", None),
        ("literal escapes stay literal: %3B %0A %5D %AZP25 %", "dir;1/file]%0A.py"),
        ("carriage\rreturn and ; semicolon ] bracket", "plain.py"),
    ],
)
def test_the_agent_reads_back_exactly_what_was_logged(message, source):
    line = logissue("error", message, source=source)
    assert "\n" not in line and "\r" not in line
    command = agent_reading_double(line)
    assert command["area.event"] == "task.logissue"
    assert command["data"] == message
    assert command["properties"] == {"type": "error", **({"sourcepath": source} if source else {})}


def test_logissue_takes_only_error_or_warning():
    with pytest.raises(ValueError, match="issue kind 'notice': expected one of error, warning"):
        logissue("notice", "x")


def test_azure_devops_is_told_by_tf_build():
    assert in_azure_devops({"TF_BUILD": "True"})
    assert not in_azure_devops({})
    assert not in_azure_devops({"TF_BUILD": ""})


def agent_reading_double(line: str) -> dict:
    """How the Azure Pipelines agent parses and unescapes a logging command (Command.TryParse)."""
    mapping = ((";", "%3B"), ("\r", "%0D"), ("\n", "%0A"), ("]", "%5D"))

    def unescape(text: str) -> str:
        for character, escaped in mapping:
            text = text.replace(escaped, character)
        return text.replace("%AZP25", "%")

    start = line.index("##vso[") + len("##vso[")
    end = line.index("]", start)
    name, _, listed = line[start:end].partition(" ")
    properties = {}
    for pair in filter(None, listed.split(";")):
        key, _, value = pair.partition("=")
        properties[key] = unescape(value)
    return {"area.event": name, "properties": properties, "data": unescape(line[end + 1 :])}


# A round trip through Azurite, the Azure Storage emulator


@pytest.fixture(scope="module")
def azurite(tmp_path_factory) -> Iterator[int]:
    """A blob service on a free loopback port, for this module; yields the port."""
    with running_azurite(tmp_path_factory.mktemp("azurite")) as port:
        yield port


@pytest.fixture
def container(azurite):
    from azure.storage.blob import BlobServiceClient

    with BlobServiceClient.from_connection_string(connection_string(azurite)) as service:
        client = service.create_container(f"results-{time.monotonic_ns()}")
        yield client
        client.delete_container()


def test_upload_to_azurite_downloads_back_byte_for_byte(azurite, container, tmp_path):
    results_dir = tmp_path / "20261123T122302Z-dc5148"
    results_dir.mkdir()
    payloads = {
        "results.jsonl": b'{"metric": "throughput_received", "unit": "Mbit/s", "test": "t\\u00e9st"}\r\n' * 3000,
        "junit.xml": '<?xml version="1.0" encoding="utf-8"?>\n<testsuites name="réseau"/>\n'.encode(),
        "report.html": b"<!doctype html><title>run</title>\n" + bytes(range(256)),
    }
    for name, payload in payloads.items():
        (results_dir / name).write_bytes(payload)
    destination = BlobDestination.parse(f"azure-blob://{AZURITE_ACCOUNT}/{container.container_name}/perf/nightly")

    uploaded = upload_run(
        destination,
        results_dir,
        scenario="fio+iperf3",
        branch="feature/fast",
        run_id=results_dir.name,
        environ={"AZURE_STORAGE_CONNECTION_STRING": connection_string(azurite)},
    )

    stem = "perf/nightly/fio+iperf3/feature-fast/20261123T122302Z-dc5148"
    expected = {f"{stem}.jsonl": "results.jsonl", f"{stem}.junit.xml": "junit.xml", f"{stem}.html": "report.html"}
    assert sorted(uploaded) == sorted(expected)
    assert sorted(container.list_blob_names()) == sorted(expected)
    for blob, name in expected.items():
        assert container.download_blob(blob).readall() == payloads[name], blob
    assert container.get_blob_client(f"{stem}.html").get_blob_properties().content_settings.content_type == (
        "text/html; charset=utf-8"
    )


def test_publishing_the_run_again_replaces_its_blobs(azurite, container, tmp_path):
    (tmp_path / "results.jsonl").write_bytes(b'{"row": 1}\n')
    destination = BlobDestination(AZURITE_ACCOUNT, container.container_name, "")
    environ = {"AZURE_STORAGE_CONNECTION_STRING": connection_string(azurite)}
    arguments = dict(scenario="fio", branch="main", run_id="42", environ=environ)
    upload_run(destination, tmp_path, **arguments)
    (tmp_path / "results.jsonl").write_bytes(b'{"row": 1}\n{"row": 2}\n')
    assert upload_run(destination, tmp_path, **arguments) == ["fio/main/42.jsonl"]
    assert container.download_blob("fio/main/42.jsonl").readall() == b'{"row": 1}\n{"row": 2}\n'


def test_a_missing_container_is_an_error_naming_it(azurite, tmp_path):
    (tmp_path / "results.jsonl").write_bytes(b"{}\n")
    destination = BlobDestination(AZURITE_ACCOUNT, "no-such-container", "")
    with pytest.raises(PublishError) as error:
        upload_run(
            destination, tmp_path, scenario="fio", branch="main", run_id="42",
            environ={"AZURE_STORAGE_CONNECTION_STRING": connection_string(azurite)},
        )  # fmt: skip
    assert str(error.value) == (
        "azure-blob://devstoreaccount1/no-such-container/fio/main/42.jsonl: "
        "container 'no-such-container' does not exist in storage account 'devstoreaccount1'"
    )


def test_a_refused_key_is_an_error_without_the_key(azurite, container, tmp_path):
    (tmp_path / "results.jsonl").write_bytes(b"{}\n")
    wrong_key = "V3JvbmdLZXlGb3JUZXN0aW5nT25seVdyb25nS2V5Rm9yVGVzdGluZw=="
    refused = connection_string(azurite).replace(AZURITE_KEY, wrong_key)
    destination = BlobDestination(AZURITE_ACCOUNT, container.container_name, "")
    with pytest.raises(PublishError) as error:
        upload_run(
            destination, tmp_path, scenario="fio", branch="main", run_id="42",
            environ={"AZURE_STORAGE_CONNECTION_STRING": refused},
        )  # fmt: skip
    message = str(error.value)
    assert message.startswith(f"azure-blob://devstoreaccount1/{container.container_name}/fio/main/42.jsonl: ")
    assert "authenticate" in message.lower() or "authorization" in message.lower()
    assert wrong_key not in message and AZURITE_KEY not in message


# Through the plugin: --telescope-publish and the Azure DevOps issues

SLO_MISS = '''
from pytest_telescope.samples import Sample


def test_speed(record_samples):
    record_samples.expect("throughput_received", min=100, unit="Mbit/s")
    record_samples(Sample("throughput_received", 95.4, "Mbit/s"))
'''


def test_the_run_is_uploaded_when_it_ends_and_its_slo_failure_is_an_issue(pytester, azurite, container, monkeypatch):
    monkeypatch.setenv("TF_BUILD", "True")
    monkeypatch.setenv("BUILD_SOURCEBRANCHNAME", "main")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection_string(azurite))
    pytester.makepyfile(test_speed=SLO_MISS)
    url = f"azure-blob://{AZURITE_ACCOUNT}/{container.container_name}/nightly"

    result = pytester.runpytest_subprocess("-p", "no:terraform", "--telescope-run-id", "77", "--telescope-publish", url)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    issue = (
        "##vso[task.logissue type=error;sourcepath=test_speed.py;]test_speed.py::test_speed: 1 SLO violation: "
        "throughput_received = 95.4 Mbit/s, expected >= 100 Mbit/s"
    )
    assert issue in result.stdout.lines
    local = {"html": "report.html", "jsonl": "results.jsonl", "junit.xml": "junit.xml"}
    assert sorted(container.list_blob_names()) == [f"nightly/test_speed/main/77.{ext}" for ext in sorted(local)]
    for extension, name in local.items():
        blob = container.download_blob(f"nightly/test_speed/main/77.{extension}").readall()
        assert blob == (pytester.path / "results/77" / name).read_bytes()


def test_outside_azure_devops_no_issue_is_printed(pytester, monkeypatch):
    monkeypatch.delenv("TF_BUILD", raising=False)
    pytester.makepyfile(test_speed=SLO_MISS)
    result = pytester.runpytest_subprocess("-p", "no:terraform")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "##vso[" not in result.stdout.str()


def test_a_bad_publish_url_stops_pytest_before_any_test(pytester):
    pytester.makepyfile(test_speed=SLO_MISS)
    result = pytester.runpytest_subprocess("-p", "no:terraform", "--telescope-publish", "azure-blob://Bench/results")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --telescope-publish 'azure-blob://Bench/results': storage account 'Bench' must be 3 to 24*"]
    )
    assert not (pytester.path / "results").exists()
