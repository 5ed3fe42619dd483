"""Talking to the API server: a client from a kubeconfig, and every failure as one line.

``call_api`` makes a call whose failure (the server's refusal, or a server
that cannot be reached) reads as one line that names what was asked, never
the response's headers. The deletions of teardown and what a pod's status
says are here too, for the target and the providers that share them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from kubernetes import client
from kubernetes.config import kube_config

from pytest_telescope.errors import ProvisionError
from pytest_telescope.targets.kubernetes import manifests

REQUEST_TIMEOUT = 30  # seconds, for the calls of teardown: a silent API server must not hang the end of a run


def load_client(kubeconfig: Path, context: str | None = None) -> client.ApiClient:
    """An API client for ``kubeconfig``. Errors name the file, never show its content."""
    try:
        return kube_config.new_client_from_config(config_file=str(kubeconfig), context=context, persist_config=False)
    except yaml.YAMLError as error:
        raise ProvisionError(f"kubeconfig {kubeconfig}: not valid YAML{yaml_error_line(error)}") from None
    except Exception as error:  # ConfigException, OSError, and whatever a malformed file raises inside the loader
        raise ProvisionError(f"kubeconfig {kubeconfig}: cannot load it: {first_line(error, 200)}") from None


def yaml_error_line(error: yaml.YAMLError) -> str:
    """`` at line N`` where the YAML parser stopped, when it says."""
    mark = getattr(error, "problem_mark", None)
    return f" at line {mark.line + 1}" if mark else ""


def call_api(what: str, call, *args, context: str = "", **kwargs):
    """``call(*args, **kwargs)``; an API error, or a server that cannot be reached, as one line about ``what``."""
    try:
        return call(*args, **kwargs)
    except client.ApiException as error:
        raise ProvisionError(f"{what}: {api_error_text(error)}") from None
    except Exception as error:  # urllib3 and exec-plugin failures: unreachable server, no credentials
        raise ProvisionError(f"{what}: {request_failure(error)}{context}") from None


def api_error_text(error: client.ApiException) -> str:
    """Status, reason and the server's message: never the response headers."""
    message = ""
    if error.body:
        try:
            message = json.loads(error.body).get("message", "")
        except (ValueError, AttributeError):
            message = first_line(error.body)
    text = f"{error.status} {error.reason}" if error.status else first_line(error.reason or "")
    return f"{text}: {message}" if message else text


def request_failure(error: Exception) -> str:
    """Why a request failed: the system's reason when it could not connect (refused, no such host), else the first line."""
    found = re.search(r"\[Errno -?\d+\] ([^'\"]+)", str(error))
    return found.group(1).rstrip(": ") if found else first_line(error)


def first_line(error: object, limit: int = 300) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:limit]


def delete_namespace(core: client.CoreV1Api, namespace: str) -> None:
    _delete(f"delete namespace {namespace}", core.delete_namespace, namespace, propagation_policy="Background")


def delete_pod(core: client.CoreV1Api, namespace: str, name: str) -> None:
    _delete(f"delete pod {namespace}/{name}", core.delete_namespaced_pod, name, namespace)


def _delete(what: str, call, *args, **kwargs) -> None:
    """A deletion of teardown: bounded in time, and an object already gone is not an error."""
    try:
        call(*args, _request_timeout=REQUEST_TIMEOUT, **kwargs)
    except client.ApiException as error:
        if error.status != 404:
            raise ProvisionError(f"{what}: {api_error_text(error)}") from None
    except Exception as error:  # urllib3: an unreachable or silent API server
        raise ProvisionError(f"{what}: {request_failure(error)}") from None


def delete_virtual_nodes(core: client.CoreV1Api, run_id: str) -> None:
    """The kwok nodes of the run: cluster-scoped, so a namespace's deletion leaves them behind."""
    selector = f"{manifests.RUN_LABEL}={manifests.label_value(run_id)},type=kwok"
    what = f"delete the run's kwok nodes ({selector})"
    call_api(what, core.delete_collection_node, label_selector=selector, _request_timeout=REQUEST_TIMEOUT)


def pod_ready(pod) -> bool:
    """Running, with its Ready condition True."""
    status = pod.status
    return bool(status and status.phase == "Running" and any(c.type == "Ready" and c.status == "True" for c in status.conditions or []))


def describe_pod(pod) -> str:
    """Why a pod is not running: its phase, scheduling and container states."""
    status = pod.status
    if status is None:
        return "no status yet"
    parts = [f"phase {status.phase}"]
    for condition in status.conditions or []:
        if condition.status != "True" and condition.message:
            parts.append(f"{condition.type}: {condition.reason}: {condition.message}")
    for container in status.container_statuses or []:
        state = container.state
        waiting = state.waiting if state else None
        terminated = state.terminated if state else None
        if waiting and waiting.reason:
            parts.append(f"container {container.name} {waiting.reason}: {waiting.message or ''}".rstrip(": "))
        if terminated:
            parts.append(f"container {container.name} exited {terminated.exit_code} ({terminated.reason})")
    return "; ".join(parts)
