"""Publish a run's result files to Azure Blob Storage.

``--telescope-publish azure-blob://<account>/<container>/<prefix>`` uploads
``results.jsonl``, ``junit.xml`` and ``report.html`` of the run as
``<prefix>/<scenario>/<branch>/<run id>.jsonl`` (``.junit.xml``, ``.html``),
the layout Telescope's ingestion reads. Credentials come from
``AZURE_STORAGE_CONNECTION_STRING`` when it is set, else from
``DefaultAzureCredential`` (managed identity, ``az login``, ``AZURE_CLIENT_*``).
The Azure libraries are imported only when a run publishes: they take half a
second to load.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping
from urllib.parse import urlsplit

from pytest_telescope.errors import TelescopeError

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient

SCHEME = "azure-blob"
CONNECTION_STRING_VARIABLE = "AZURE_STORAGE_CONNECTION_STRING"
BRANCH_VARIABLES = ("BUILD_SOURCEBRANCHNAME", "GITHUB_REF_NAME")  # Azure DevOps, GitHub Actions
UNKNOWN_BRANCH = "local"
UNNAMED_SCENARIO = "unnamed"

# File in the run's results directory: (blob name extension, content type).
RUN_FILES = {
    "results.jsonl": ("jsonl", "application/x-ndjson"),
    "junit.xml": ("junit.xml", "application/xml"),
    "report.html": ("html", "text/html; charset=utf-8"),
}

_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")
_CONTAINER = re.compile(r"(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*")
_UNSAFE_IN_SEGMENT = re.compile(r"[^A-Za-z0-9._+-]+")
# The library's default retries back off for minutes; a publish step should fail in seconds.
_CLIENT_SETTINGS = {"retry_total": 3, "initial_backoff": 2, "increment_base": 2, "connection_timeout": 20}


class PublishError(TelescopeError):
    """The publish destination is malformed, unreachable or refuses the upload."""


@dataclass(frozen=True)
class BlobDestination:
    account: str
    container: str
    prefix: str  # "" or "a/b", without leading or trailing slash

    @classmethod
    def parse(cls, url: str) -> "BlobDestination":
        """``azure-blob://account/container[/prefix]``, checked against Azure's naming rules."""
        parts = urlsplit(url)
        if parts.scheme != SCHEME:
            raise PublishError(f"{url!r}: expected {SCHEME}://<account>/<container>/<prefix>")
        if parts.query or parts.fragment or "@" in parts.netloc or ":" in parts.netloc:
            raise PublishError(f"{url!r}: a port, user, query or fragment has no place in {SCHEME}:// URLs")
        account = parts.netloc
        container, _, prefix = parts.path.lstrip("/").partition("/")
        if not _ACCOUNT.fullmatch(account):
            raise PublishError(f"{url!r}: storage account {account!r} must be 3 to 24 lowercase letters and digits")
        if not _CONTAINER.fullmatch(container):
            raise PublishError(
                f"{url!r}: container {container!r} must be 3 to 63 lowercase letters, digits and single hyphens,"
                " starting and ending with a letter or digit"
            )
        return cls(account, container, "/".join(segment for segment in prefix.split("/") if segment))

    def blob_name(self, scenario: str, branch: str, run_id: str, extension: str) -> str:
        """``<prefix>/<scenario>/<branch>/<run id>.<extension>``; a ``/`` inside a name becomes ``-``."""
        names = [self.prefix] if self.prefix else []
        names += [_segment(scenario), _segment(branch), f"{_segment(run_id)}.{extension}"]
        return "/".join(names)

    def url(self, blob: str = "") -> str:
        return "/".join(part for part in (f"{SCHEME}://{self.account}", self.container, blob or self.prefix) if part)


def scenario_name(configured: str, benchmarks: Iterable[str]) -> str:
    """The configured scenario name, else the run's benchmarks joined: ``fio+iperf3``."""
    return configured or "+".join(sorted(set(benchmarks))) or UNNAMED_SCENARIO


def branch_name(environ: Mapping[str, str], checkout: Path) -> str:
    """The CI's branch, else the checkout's current branch, else ``local``."""
    for variable in BRANCH_VARIABLES:
        if environ.get(variable):
            return environ[variable]
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=checkout, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return UNKNOWN_BRANCH
    branch = result.stdout.strip()
    # A detached HEAD names no branch.
    return branch if result.returncode == 0 and branch and branch != "HEAD" else UNKNOWN_BRANCH


def upload_run(
    destination: BlobDestination,
    results_dir: Path,
    *,
    scenario: str,
    branch: str,
    run_id: str,
    environ: Mapping[str, str],
) -> list[str]:
    """Upload the run's files that exist, replacing earlier uploads of the same run; returns the blob names."""
    from azure.core.exceptions import AzureError
    from azure.storage.blob import ContentSettings

    files = [(results_dir / name, kind) for name, kind in RUN_FILES.items() if (results_dir / name).is_file()]
    if not files:
        raise PublishError(f"{results_dir}: none of {', '.join(RUN_FILES)} to publish")
    uploaded = []
    with service_client(destination.account, environ) as service:
        container = service.get_container_client(destination.container)
        for path, (extension, content_type) in files:
            blob = destination.blob_name(scenario, branch, run_id, extension)
            try:
                with path.open("rb") as data:
                    container.upload_blob(
                        blob, data, overwrite=True, content_settings=ContentSettings(content_type=content_type)
                    )
            except AzureError as error:
                raise PublishError(f"{destination.url(blob)}: {_describe(error, destination)}") from None
            uploaded.append(blob)
    return uploaded


def download_run(destination: BlobDestination, run_id: str, into: Path, environ: Mapping[str, str]) -> list[Path]:
    """Download the files of ``run_id`` that every job published under the destination's prefix,
    one folder per scenario and branch (``into/<scenario>/<branch>/``); returns the folders."""
    from azure.core.exceptions import AzureError

    file_names = {extension: name for name, (extension, _) in RUN_FILES.items()}
    prefix = f"{destination.prefix}/" if destination.prefix else ""
    folders = []
    with service_client(destination.account, environ) as service:
        container = service.get_container_client(destination.container)
        try:
            for blob in container.list_blob_names(name_starts_with=prefix):
                *where, file = blob[len(prefix) :].split("/")
                stem, _, extension = file.partition(".")
                if len(where) != 2 or stem != _segment(run_id) or extension not in file_names:
                    continue
                folder = into.joinpath(*where)
                folder.mkdir(parents=True, exist_ok=True)
                (folder / file_names[extension]).write_bytes(container.download_blob(blob).readall())
                folders += [folder] if folder not in folders else []
        except AzureError as error:
            raise PublishError(f"{destination.url()}: {_describe(error, destination)}") from None
    return folders


def service_client(account: str, environ: Mapping[str, str]) -> "BlobServiceClient":
    """A client for ``account``; the connection string's value never appears in an error."""
    from azure.storage.blob import BlobServiceClient

    connection_string = environ.get(CONNECTION_STRING_VARIABLE, "")
    if not connection_string:
        from azure.identity import DefaultAzureCredential

        return BlobServiceClient(
            f"https://{account}.blob.core.windows.net", credential=DefaultAzureCredential(), **_CLIENT_SETTINGS
        )
    try:
        client = BlobServiceClient.from_connection_string(connection_string, **_CLIENT_SETTINGS)
    except ValueError:
        raise PublishError(f"{CONNECTION_STRING_VARIABLE} is not a storage connection string") from None
    if client.account_name != account:
        raise PublishError(
            f"{CONNECTION_STRING_VARIABLE} is for storage account {client.account_name!r},"
            f" the publish URL names {account!r}"
        )
    return client


def _describe(error: Exception, destination: BlobDestination) -> str:
    if getattr(error, "error_code", None) == "ContainerNotFound":
        return f"container {destination.container!r} does not exist in storage account {destination.account!r}"
    lines = str(error).strip().splitlines()
    return "\n".join(lines[:4]) or type(error).__name__


def _segment(name: str) -> str:
    return _UNSAFE_IN_SEGMENT.sub("-", name)
