"""Azurite, the Azure Storage emulator from npm, as the tests start it: on a free loopback port,
stopped by its process id; a test skips, saying how to install it, when it is missing."""

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[1]
AZURITE_VERSION = "3.37.0"
AZURITE_INSTALL = f"npm install --prefix .venv/azurite azurite@{AZURITE_VERSION}"
# Azurite's one account and its published development key (not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@contextlib.contextmanager
def running_azurite(workdir: Path) -> Iterator[int]:
    """A blob service keeping its data in ``workdir``; yields its port."""
    binary = _azurite_binary()
    if binary is None or shutil.which("node") is None:
        pytest.skip(f"Azurite (Node.js package) not installed: {AZURITE_INSTALL}")
    port = _free_port()
    # Without --disableTelemetry, Azurite reports usage to an outside service, and its pending
    # report keeps the process alive for long after SIGTERM.
    argv = [binary, "--silent", "--disableTelemetry", "--location", str(workdir),
            "--blobHost", "127.0.0.1", "--blobPort", str(port), "--skipApiVersionCheck"]  # fmt: skip
    log_path = workdir / "azurite.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_listening(process, port, log_path)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def connection_string(port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )


def _azurite_binary() -> str | None:
    installed = REPO / ".venv/azurite/node_modules/.bin/azurite-blob"
    return str(installed) if installed.exists() else shutil.which("azurite-blob")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_listening(process: subprocess.Popen, port: int, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            head = "\n".join(log_path.read_text(errors="replace").splitlines()[:8])
            pytest.fail(f"azurite-blob exited with {process.returncode} before listening:\n{head}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"azurite-blob did not listen on 127.0.0.1:{port} within {timeout:.0f}s")
