"""A container's log as it is written, through the API server's log subresource.

Each line comes with the kubelet's timestamp (``timestamps=true``: RFC 3339
with up to nine decimals, then a space), as nanoseconds since the epoch, so a
reader that opens the log again can skip what it has already read.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Iterator

from kubernetes import client
from urllib3.exceptions import HTTPError, ReadTimeoutError

from pytest_telescope.errors import ProvisionError
from pytest_telescope.targets.kubernetes.api import api_error_text, request_failure

CONNECT_SECONDS = 10
_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")


def instant(stamp: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time such as ``2026-11-23T12:23:02.123456789Z``."""
    found = _STAMP.fullmatch(stamp)
    if found is None:
        raise ValueError(f"not an RFC 3339 time: {stamp[:40]!r}")
    seconds, decimals, zone = found.groups()
    whole = datetime.fromisoformat(seconds + ("+00:00" if zone == "Z" else zone))
    return int(whole.timestamp()) * 10**9 + int((decimals or "").ljust(9, "0"))


def follow(
    core: client.CoreV1Api, namespace: str, pod: str, container: str, *, since_seconds: int | None = None, read_timeout: float
) -> Iterator[tuple[int, str]]:
    """(instant, text) of each line of the container's log, from ``since_seconds`` ago (from its start
    when None), as they are written, until the container ends. ``ProvisionError`` when the log cannot
    be read, a line has no timestamp, or nothing came for ``read_timeout`` seconds."""
    what = f"log of pod {namespace}/{pod}"
    try:
        response = core.read_namespaced_pod_log(
            pod, namespace, container=container, follow=True, timestamps=True, since_seconds=since_seconds,
            _preload_content=False, _request_timeout=(CONNECT_SECONDS, read_timeout),
        )
    except client.ApiException as error:
        raise ProvisionError(f"{what}: {api_error_text(error)}") from None
    except HTTPError as error:
        raise ProvisionError(f"{what}: {request_failure(error)}") from None
    partial = b""
    try:
        for chunk in response.stream(decode_content=False):
            *lines, partial = (partial + chunk).split(b"\n")
            for line in lines:
                stamp, _, text = line.decode(errors="replace").partition(" ")
                try:
                    at = instant(stamp)
                except ValueError as error:
                    raise ProvisionError(f"{what}: a line without the kubelet's timestamp: {error}") from None
                yield at, text
    except ReadTimeoutError:
        raise ProvisionError(f"{what}: nothing written for {read_timeout:g} s") from None
    except HTTPError as error:  # the connection dropped
        raise ProvisionError(f"{what}: {request_failure(error)}") from None
    finally:
        response.close()
