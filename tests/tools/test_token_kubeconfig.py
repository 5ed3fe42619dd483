"""The container's kubeconfig: a token file the host keeps fresh with the kubeconfig's exec plugin."""

import base64
import json
import stat
import sys
import time
from pathlib import Path, PurePosixPath

import pytest
import yaml

from pytest_telescope.errors import ToolError
from pytest_telescope.tools._token_kubeconfig import TOKEN_FILE, TokenKubeconfig, uses_exec_plugin

MOUNTED_AT = PurePosixPath("/cl2/auth")
CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n").decode()

# A credential plugin double: prints ExecCredential with token-<n> on its n-th call, expiring in
# $EXPIRES_IN seconds, and exits 1 with a message on the call numbered $FAIL_ON.
PLUGIN = """\
import datetime, json, os, pathlib, sys
calls = pathlib.Path(sys.argv[1])
n = int(calls.read_text()) + 1 if calls.exists() else 1
calls.write_text(str(n))
if str(n) == os.environ.get("FAIL_ON"):
    sys.exit("error: the SSO session has expired")
pathlib.Path(sys.argv[1] + ".exec-info").write_text(os.environ["KUBERNETES_EXEC_INFO"])
expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=float(os.environ["EXPIRES_IN"]))
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                  "status": {"token": f"token-{n}", "expirationTimestamp": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")}}))
"""


def exec_kubeconfig(tmp_path: Path, expires_in: float = 900, fail_on: int = 0) -> Path:
    plugin = tmp_path / "fake_plugin.py"
    plugin.write_text(PLUGIN)
    path = tmp_path / "kubeconfig"
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": sys.executable,
            "args": [str(plugin), str(tmp_path / "calls")],
            "env": [{"name": "EXPIRES_IN", "value": str(expires_in)}, {"name": "FAIL_ON", "value": str(fail_on)}],
            "provideClusterInfo": True,
        }
    }
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "eks",
                "clusters": [{"name": "eks", "cluster": {"server": "https://abc.eks.example:443", "certificate-authority-data": CA}}],
                "contexts": [{"name": "eks", "context": {"cluster": "eks", "user": "eks"}}],
                "users": [{"name": "eks", "user": user}],
            }
        )
    )
    return path


def token(directory: Path) -> str:
    return (directory / TOKEN_FILE).read_text()


def test_only_an_exec_plugin_users_kubeconfig_needs_a_token_file(tmp_path):
    assert uses_exec_plugin(exec_kubeconfig(tmp_path))
    certificate = tmp_path / "aks.kubeconfig"
    certificate.write_text(
        yaml.safe_dump(
            {
                "current-context": "aks",
                "clusters": [{"name": "aks", "cluster": {"server": "https://aks.example:443"}}],
                "contexts": [{"name": "aks", "context": {"cluster": "aks", "user": "admin"}}],
                "users": [{"name": "admin", "user": {"client-certificate-data": "Y2VydA==", "client-key-data": "a2V5"}}],
            }
        )
    )
    assert not uses_exec_plugin(certificate)
    certificate.write_text("apiVersion: v1\nkind: Config\n")
    assert not uses_exec_plugin(certificate)


def test_the_container_kubeconfig_reads_a_token_file_and_runs_no_plugin(tmp_path):
    directory = tmp_path / "auth"
    with TokenKubeconfig(exec_kubeconfig(tmp_path), directory, MOUNTED_AT):
        config = yaml.safe_load((directory / "kubeconfig").read_text())
        assert token(directory) == "token-1"
        assert stat.S_IMODE((directory / TOKEN_FILE).stat().st_mode) == 0o600
    (cluster,) = config["clusters"]
    assert cluster["cluster"] == {"server": "https://abc.eks.example:443", "certificate-authority-data": CA}
    (user,) = config["users"]
    assert user["user"] == {"tokenFile": "/cl2/auth/token"}
    assert config["contexts"][0]["context"] == {"cluster": cluster["name"], "user": user["name"]}
    assert config["current-context"] == config["contexts"][0]["name"]
    assert not (directory / TOKEN_FILE).exists()


def test_the_plugin_is_told_the_cluster_when_it_asks(tmp_path):
    with TokenKubeconfig(exec_kubeconfig(tmp_path), tmp_path / "auth", MOUNTED_AT):
        pass
    exec_info = json.loads((tmp_path / "calls.exec-info").read_text())
    assert exec_info["spec"]["cluster"]["server"] == "https://abc.eks.example:443"


def test_the_token_is_replaced_before_it_expires(tmp_path):
    directory = tmp_path / "auth"
    with TokenKubeconfig(exec_kubeconfig(tmp_path, expires_in=2), directory, MOUNTED_AT, refresh_margin=1.5):
        assert token(directory) == "token-1"
        deadline = time.monotonic() + 10
        while token(directory) == "token-1" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert token(directory) in ("token-2", "token-3")


def test_a_plugin_that_fails_at_first_is_a_tool_error_with_its_words(tmp_path):
    with pytest.raises(ToolError, match=r"fake_plugin.py .*credential plugin failed: .*the SSO session has expired"):
        with TokenKubeconfig(exec_kubeconfig(tmp_path, fail_on=1), tmp_path / "auth", MOUNTED_AT):
            pass


def test_a_failed_refresh_keeps_the_token_and_says_so(tmp_path):
    said = []
    directory = tmp_path / "auth"
    with TokenKubeconfig(exec_kubeconfig(tmp_path, expires_in=1, fail_on=2), directory, MOUNTED_AT, refresh_margin=1, echo=said.append):
        deadline = time.monotonic() + 10
        while not said and time.monotonic() < deadline:
            time.sleep(0.05)
        assert token(directory) == "token-1"
    assert "the SSO session has expired" in said[0] and "trying again in 30 s" in said[0]


def test_a_certificate_authority_file_is_inlined(tmp_path):
    kubeconfig = exec_kubeconfig(tmp_path)
    config = yaml.safe_load(kubeconfig.read_text())
    del config["clusters"][0]["cluster"]["certificate-authority-data"]
    config["clusters"][0]["cluster"]["certificate-authority"] = "ca.crt"
    (tmp_path / "ca.crt").write_bytes(base64.b64decode(CA))
    kubeconfig.write_text(yaml.safe_dump(config))
    (cluster,) = yaml.safe_load(TokenKubeconfig(kubeconfig, tmp_path / "auth", MOUNTED_AT).kubeconfig_text)["clusters"]
    assert cluster["cluster"] == {"server": "https://abc.eks.example:443", "certificate-authority-data": CA}
