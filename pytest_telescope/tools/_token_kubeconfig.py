"""A kubeconfig for a tool's container, where the host's credential plugin cannot run.

The EKS and GKE kubeconfigs authenticate with an exec plugin (``aws eks get-token``,
``gke-gcloud-auth-plugin``) that a tool's image does not have, nor the cloud credentials behind
it. The container gets instead a kubeconfig whose user reads a bearer token from a file
(``tokenFile``), which client-go reads again every minute and after a 401
(client-go transport/token_source.go, NewCachedFileTokenSource), while the host runs the plugin
and replaces the file before the token expires (an EKS token lives 15 minutes). Only that
short-lived token enters the container, never the cloud credentials.
"""

from __future__ import annotations

import base64
import datetime
import os
import threading
from pathlib import Path, PurePosixPath
from typing import Callable

import yaml
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.dateutil import parse_rfc3339
from kubernetes.config.exec_provider import ExecProvider
from kubernetes.config.kube_config import ConfigNode

from pytest_telescope.errors import ToolError

TOKEN_FILE = "token"
KUBECONFIG_FILE = "kubeconfig"
# A new token is fetched this long before the current one expires; a plugin that does not say
# when its token expires is run again as often.
REFRESH_MARGIN = 300.0
RETRY_SECONDS = 30.0


def uses_exec_plugin(kubeconfig: Path) -> bool:
    """The current context's user gets its credentials from an exec plugin (False for a
    kubeconfig without one, which the tool then reports as it reads it)."""
    try:
        return "exec" in _current(yaml.safe_load(kubeconfig.read_text()) or {}, kubeconfig)[1]
    except (ToolError, yaml.YAMLError, AttributeError):
        return False


class TokenKubeconfig:
    """``directory`` holds ``kubeconfig`` and ``token``; mounted at ``mounted_at`` in the container,
    the kubeconfig's user reads ``mounted_at/token``. Mount the directory, not the files: the
    token file is replaced, not rewritten, so that no reader sees half a token.

    ``with`` it: entering fetches the first token (``ToolError`` when the plugin fails) and starts
    the refresh; leaving stops it and deletes the token.
    """

    def __init__(
        self,
        kubeconfig: Path,
        directory: Path,
        mounted_at: PurePosixPath,
        *,
        refresh_margin: float = REFRESH_MARGIN,
        echo: Callable[[str], None] | None = None,
    ):
        self.source = kubeconfig
        self.directory = directory
        self.refresh_margin = refresh_margin
        self._echo = echo or (lambda text: None)
        config = yaml.safe_load(kubeconfig.read_text()) or {}
        cluster, user = _current(config, kubeconfig)
        self._plugin = ExecProvider(ConfigNode("exec", user["exec"]), str(kubeconfig.parent), ConfigNode("cluster", cluster))
        self._command = " ".join([user["exec"].get("command", ""), *user["exec"].get("args", [])])
        self.kubeconfig_text = yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "cluster",
                "clusters": [{"name": "cluster", "cluster": _self_contained(cluster, kubeconfig.parent)}],
                "contexts": [{"name": "cluster", "context": {"cluster": "cluster", "user": "token"}}],
                "users": [{"name": "token", "user": {"tokenFile": str(mounted_at / TOKEN_FILE)}}],
            },
            sort_keys=False,
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> TokenKubeconfig:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / KUBECONFIG_FILE).write_text(self.kubeconfig_text)
        wait = self._refresh()
        self._thread = threading.Thread(target=self._keep_fresh, args=(wait,), name="token-kubeconfig", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        (self.directory / TOKEN_FILE).unlink(missing_ok=True)

    def _refresh(self) -> float:
        """Write a new token; the seconds until the next one is due."""
        try:
            status = self._plugin.run()
        except ConfigException as error:
            raise ToolError(self._command, f"the kubeconfig's credential plugin failed: {error}") from None
        if "token" not in status:
            raise ToolError(self._command, "the credential plugin gave no token (a client certificate cannot be refreshed this way)")
        partial = self.directory / f".{TOKEN_FILE}.new"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(status["token"])
        os.replace(partial, self.directory / TOKEN_FILE)
        expiry = status.get("expirationTimestamp")
        if not expiry:
            return self.refresh_margin
        left = (parse_rfc3339(expiry) - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        return max(left - self.refresh_margin, 0.0)

    def _keep_fresh(self, wait: float) -> None:
        while not self._stop.wait(wait):
            try:
                wait = self._refresh()
            except ToolError as error:
                # The token in place may still be good; the tool reports it when it is not.
                self._echo(f"refreshing the container's token: {error}; trying again in {RETRY_SECONDS:g} s")
                wait = RETRY_SECONDS


def _current(config: dict, path: Path) -> tuple[dict, dict]:
    """The current context's cluster and user entries."""

    def named(kind: str, name: str) -> dict:
        for entry in config.get(kind) or []:
            if entry.get("name") == name:
                return entry.get(kind[:-1]) or {}
        raise ToolError(str(path), f"the kubeconfig has no {kind[:-1]} {name!r}")

    context = named("contexts", config.get("current-context", ""))
    return named("clusters", context.get("cluster", "")), named("users", context.get("user", ""))


def _self_contained(cluster: dict, base: Path) -> dict:
    """The cluster entry with a certificate authority file inlined: host paths mean nothing in the container."""
    cluster = dict(cluster)
    authority = cluster.pop("certificate-authority", None)
    if authority and "certificate-authority-data" not in cluster:
        cluster["certificate-authority-data"] = base64.b64encode((base / authority).read_bytes()).decode()
    return cluster
