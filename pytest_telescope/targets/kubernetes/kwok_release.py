"""kwok's release: its manifests, downloaded or read from a local copy, installed into a cluster and removed.

``load_manifests`` reads the release assets of a pinned version (``kwok.yaml``:
its CRDs, RBAC and the Deployment in kube-system; ``stage-fast.yaml``: the
Stages without which it does nothing) from GitHub, or from a local copy for
clusters that cannot reach GitHub. ``install`` creates objects of any kind
through the dynamic client, and ``uninstall`` deletes what it created.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import requests
import yaml
from kubernetes import client
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ConflictError, NotFoundError, ResourceNotFoundError

from pytest_telescope.errors import ProvisionError
from pytest_telescope.targets.kubernetes.api import api_error_text, call_api, request_failure, yaml_error_line

KWOK_VERSION = "v0.7.0"
RELEASES_URL = "https://github.com/kubernetes-sigs/kwok/releases/download"
RELEASE_ASSETS = ("kwok.yaml", "stage-fast.yaml")


# --- the release manifests -------------------------------------------------------------------


def release_urls(version: str = KWOK_VERSION) -> list[str]:
    """The release assets that install kwok ``version`` in a cluster, in the order they apply."""
    return [f"{RELEASES_URL}/{version}/{asset}" for asset in RELEASE_ASSETS]


def fetch(url: str, timeout: float = 30.0) -> list[dict]:
    """The Kubernetes objects of the multi-document YAML at ``url``."""
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as error:
        raise ProvisionError(
            f"kwok manifests {url}: cannot download: {_download_error(error, timeout)} "
            "(for a cluster without access to GitHub, give a local copy with --telescope-kwok-manifests)"
        ) from None
    return parse(response.text, url)


def _download_error(error: requests.RequestException, timeout: float) -> str:
    if isinstance(error, requests.HTTPError):
        return f"HTTP {error.response.status_code} {error.response.reason}"
    if isinstance(error, requests.Timeout):
        return f"no answer within {timeout:g} s"
    return request_failure(error)


def read_local(path: Path) -> list[dict]:
    """The objects of a manifest file, or of every ``.yaml``/``.yml`` file of a directory, by name."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if not files:
            raise ProvisionError(f"kwok manifests {path}: no .yaml file in this directory")
    elif path.exists():
        files = [path]
    else:
        raise ProvisionError(f"kwok manifests {path}: no such file or directory (from --telescope-kwok-manifests)")
    documents = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ProvisionError(f"kwok manifests {file}: cannot read it: {request_failure(error)}") from None
        documents += parse(text, str(file))
    return documents


def parse(text: str, source: str) -> list[dict]:
    """The objects of a multi-document YAML; empty documents are skipped."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        raise ProvisionError(f"kwok manifests {source}: not valid YAML{yaml_error_line(error)}") from None
    for number, document in enumerate(documents, 1):
        if document is not None and not _is_object(document):
            raise ProvisionError(f"kwok manifests {source}: document {number} is not a Kubernetes object (apiVersion, kind, metadata.name)")
    return [document for document in documents if document is not None]


def _is_object(document) -> bool:
    return (
        isinstance(document, dict)
        and isinstance(document.get("apiVersion"), str)
        and isinstance(document.get("kind"), str)
        and isinstance(document.get("metadata"), dict)
        and isinstance(document["metadata"].get("name"), str)
    )


def load_manifests(source: Path | None, version: str = KWOK_VERSION, timeout: float = 30.0) -> list[dict]:
    """kwok's manifests: from ``source`` (a file or directory) if given, else the release of ``version``."""
    if source is not None:
        return read_local(source)
    return [document for url in release_urls(version) for document in fetch(url, timeout)]


# --- installing and removing objects of any kind ---------------------------------------------


@dataclass(frozen=True)
class ObjectRef:
    """One object that ``install`` created: what ``remove`` deletes."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} ({self.api_version})"


def install(
    api_client: client.ApiClient, documents: Sequence[dict], *, timeout: float = 120.0, poll_interval: float = 2.0, what: str = "kwok install"
) -> list[ObjectRef]:
    """Create every object of ``documents``; one that already exists is taken as it is.

    ``what`` starts every error message.

    Namespaces and CustomResourceDefinitions go first. An object of a custom
    kind waits, up to ``timeout`` seconds, until the API server serves that
    kind. Returns the objects created, in order. When one cannot be created,
    the ones created before it are deleted and the error names the object.
    """
    created: list[ObjectRef] = []
    with _dynamic_client(api_client) as dynamic:
        try:
            for document in sorted(documents, key=_install_order):
                made = _create(dynamic, document, timeout, poll_interval, what)
                if made is not None:
                    created.append(made)
        except ProvisionError as error:
            failures = _delete_objects(dynamic, created)
            if failures:
                raise ProvisionError(f"{error}; and could not delete what it had installed: {'; '.join(failures)}") from None
            raise
    return created


def _install_order(document: dict) -> int:
    return {"Namespace": 0, "CustomResourceDefinition": 1}.get(document["kind"], 2)


def _create(dynamic: DynamicClient, document: dict, timeout: float, poll_interval: float, what: str) -> ObjectRef | None:
    metadata = document["metadata"]
    described = ObjectRef(document["apiVersion"], document["kind"], metadata["name"], metadata.get("namespace"))
    deadline = time.monotonic() + timeout
    while True:
        try:
            resource = dynamic.resources.get(api_version=described.api_version, kind=described.kind)
            namespace = (described.namespace or "default") if resource.namespaced else None
            resource.create(body=document, namespace=namespace)
            return ObjectRef(described.api_version, described.kind, described.name, namespace)
        except ConflictError:
            return None
        # A kind whose CustomResourceDefinition was just created is served a moment later.
        except ResourceNotFoundError:
            problem = "the API server does not serve this kind"
        except NotFoundError as error:
            problem = api_error_text(error)
        except client.ApiException as error:
            raise ProvisionError(f"{what}: create {described}: {api_error_text(error)}") from None
        except Exception as error:  # urllib3: the API server cannot be reached
            raise ProvisionError(f"{what}: create {described}: {request_failure(error)}") from None
        if time.monotonic() >= deadline:
            raise ProvisionError(f"{what}: create {described}: {problem} (after {timeout:g} s)")
        time.sleep(poll_interval)


def _delete_objects(dynamic: DynamicClient, objects: Sequence[ObjectRef]) -> list[str]:
    """Delete ``objects``, newest first; what is gone already is fine. Returns what could not be deleted, and why."""
    failures = []
    for ref in reversed(objects):
        try:
            resource = dynamic.resources.get(api_version=ref.api_version, kind=ref.kind)
            resource.delete(name=ref.name, namespace=ref.namespace)
        except (NotFoundError, ResourceNotFoundError):
            pass
        except client.ApiException as error:
            failures.append(f"{ref}: {api_error_text(error)}")
        except Exception as error:
            failures.append(f"{ref}: {request_failure(error)}")
    return failures


@contextlib.contextmanager
def _dynamic_client(api_client: client.ApiClient) -> Iterator[DynamicClient]:
    # The dynamic client caches what it discovers in a file, by default one shared by every user in
    # the temporary directory and named after the server: ours is private and lasts one call.
    with tempfile.TemporaryDirectory(prefix="telescope-kwok-") as directory:
        what = f"kwok: discover the API of {api_client.configuration.host}"
        yield call_api(what, DynamicClient, api_client, cache_file=os.path.join(directory, "discovery.json"))


def uninstall(api_client: client.ApiClient, installed: Sequence[ObjectRef]) -> None:
    """Delete the ``installed`` objects, newest first; what is gone already is fine.

    Everything is tried; then one error names what could not be deleted.
    """
    if not installed:
        return
    try:
        with _dynamic_client(api_client) as dynamic:
            failures = _delete_objects(dynamic, installed)
    except ProvisionError as error:
        failures = [str(error)]
    if failures:
        raise ProvisionError("kwok teardown: could not delete " + "; ".join(failures))
