"""Real apply/destroy tests of the ``terraform/local`` module (the embedded target).

Terraform runs as a plain subprocess with ``-chdir`` pointing at the module, and
``TF_DATA_DIR``, ``-state`` and the var file all live under pytest's ``tmp_path``,
so nothing is written into the module directory. Tests of netns mode need root
and create namespaces named ``telescope-<unique>-*``, which are always removed.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import time
import uuid
from pathlib import Path

import pytest

MODULE_DIR = Path(__file__).resolve().parents[2] / "pytest_telescope" / "terraform" / "local"
SCRIPT = MODULE_DIR / "target.sh"
TERRAFORM = shutil.which("terraform")
IPERF3 = shutil.which("iperf3")
IS_ROOT = os.geteuid() == 0
NETNS_DIR = Path("/var/run/netns")
SERVER_ADDR = "10.200.0.1"
CLIENT_ADDR = "10.200.0.2"
IPERF_PORT = 5201

pytestmark = pytest.mark.skipif(TERRAFORM is None, reason="terraform CLI not on PATH")
needs_root = pytest.mark.skipif(not IS_ROOT, reason="netns mode needs root")
needs_iperf3 = pytest.mark.skipif(IPERF3 is None, reason="iperf3 not installed")


def unique_name() -> str:
    return "t" + uuid.uuid4().hex[:7]


def netns_names(name: str) -> list[str]:
    return [f"telescope-{name}-server", f"telescope-{name}-client"]


def veth_names(name: str) -> list[str]:
    return [f"ts{name}s", f"ts{name}c"]


def netns_exists(ns: str) -> bool:
    return (NETNS_DIR / ns).exists()


def link_in_root_ns(ifname: str) -> bool:
    return (
        subprocess.run(["ip", "link", "show", "dev", ifname], capture_output=True).returncode
        == 0
    )


def ip_json(*args: str) -> list[dict]:
    out = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def assert_nothing_left(name: str, state_dir: Path) -> None:
    for ns in netns_names(name):
        assert not netns_exists(ns), f"namespace {ns} left behind"
    for ifname in veth_names(name):
        assert not link_in_root_ns(ifname), f"interface {ifname} left behind"
    assert not state_dir.exists(), f"state_dir {state_dir} left behind"


class Terraform:
    """One module instance: its own data dir, state file and var file."""

    def __init__(self, workdir: Path, **variables):
        self.workdir = workdir
        self.state = workdir / "terraform.tfstate"
        self.var_file = workdir / "vars.tfvars.json"
        self.variables = variables
        self.var_file.write_text(json.dumps(variables))
        env = {k: v for k, v in os.environ.items() if not k.startswith("TELESCOPE_")}
        env.update(
            TF_DATA_DIR=str(workdir / "tf-data"),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
        )
        self.env = env
        self.timings: dict[str, float] = {}

    def run(self, *args: str, check: bool = True, extra_env: dict | None = None):
        cmd = [TERRAFORM, f"-chdir={MODULE_DIR}", *args]
        start = time.monotonic()
        proc = subprocess.run(
            cmd,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.timings[args[0]] = time.monotonic() - start
        if check and proc.returncode != 0:
            pytest.fail(
                f"terraform {' '.join(args)} exited {proc.returncode}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
        return proc

    def init(self):
        return self.run("init", "-input=false", "-no-color")

    def _state_args(self):
        return [f"-state={self.state}", f"-var-file={self.var_file}"]

    def apply(self, **kw):
        return self.run("apply", "-auto-approve", "-input=false", "-no-color", *self._state_args(), **kw)

    def plan(self, **kw):
        return self.run("plan", "-input=false", "-no-color", *self._state_args(), **kw)

    def destroy(self, **kw):
        return self.run("destroy", "-auto-approve", "-input=false", "-no-color", *self._state_args(), **kw)

    def outputs(self) -> dict:
        proc = self.run("output", "-json", "-no-color", f"-state={self.state}")
        return {k: v["value"] for k, v in json.loads(proc.stdout).items()}


@pytest.fixture
def module(tmp_path):
    """Factory of module instances; whatever they created is destroyed at teardown."""
    made: list[Terraform] = []

    def make(**variables) -> Terraform:
        workdir = tmp_path / f"tf{len(made)}"
        workdir.mkdir()
        tf = Terraform(workdir, **variables)
        made.append(tf)
        tf.init()
        return tf

    yield make

    for tf in made:
        if tf.state.exists():
            tf.destroy(check=False)
        # Last resort if terraform could not clean up: the script itself.
        name = tf.variables["name"]
        if tf.variables.get("mode") == "netns" and any(map(netns_exists, netns_names(name))):
            subprocess.run(
                ["/bin/sh", str(SCRIPT), "destroy"],
                env={
                    **os.environ,
                    "TELESCOPE_NAME": name,
                    "TELESCOPE_MODE": "netns",
                    "TELESCOPE_STATE_DIR": tf.variables["state_dir"],
                },
                capture_output=True,
            )


def read_status(outputs: dict) -> dict:
    return json.loads(Path(outputs["status_file"]).read_text())


def start_in_ns(ns: str, *cmd: str, **kw) -> subprocess.Popen:
    # `ip netns exec` execs the command, so the Popen pid is the command's pid.
    return subprocess.Popen(["ip", "netns", "exec", ns, *cmd], **kw)


def wait_listening(proc: subprocess.Popen, addr: str, port: int, timeout: float = 5.0) -> None:
    """Wait until ``proc`` listens on addr:port, by reading its own /proc/PID/net/tcp."""
    a, b, c, d = (int(x) for x in addr.split("."))
    want = f"{d:02X}{c:02X}{b:02X}{a:02X}:{port:04X}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"iperf3 server exited early with {proc.returncode}")
        try:
            lines = Path(f"/proc/{proc.pid}/net/tcp").read_text().splitlines()[1:]
        except OSError:
            lines = []
        if any(f[1] == want and f[3] == "0A" for f in (line.split() for line in lines)):
            return
        time.sleep(0.01)
    raise AssertionError(f"iperf3 server not listening on {addr}:{port} after {timeout}s")


def iperf3_bps(endpoints: dict, seconds: int, reverse: bool = False) -> float:
    """Run one iperf3 TCP test client->server across the veth; received bits/s."""
    server_ns = endpoints["server"]["namespace"]
    client_ns = endpoints["client"]["namespace"]
    addr = endpoints["server"]["address"]
    server = start_in_ns(
        server_ns, IPERF3, "-s", "-1", "-B", addr, "-p", str(IPERF_PORT),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_listening(server, addr, IPERF_PORT)
        client = subprocess.run(
            ["ip", "netns", "exec", client_ns, IPERF3, "-c", addr, "-p", str(IPERF_PORT),
             "-t", str(seconds), "--json", *(["-R"] if reverse else [])],
            capture_output=True, text=True, timeout=seconds + 20,
        )
        assert client.returncode == 0, f"iperf3 client failed:\n{client.stdout}\n{client.stderr}"
        assert server.wait(timeout=10) == 0, server.stderr.read()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    result = json.loads(client.stdout)
    return float(result["end"]["sum_received"]["bits_per_second"])


# ---------------------------------------------------------------- static checks


def test_module_is_fmt_clean():
    proc = subprocess.run(
        [TERRAFORM, "fmt", "-check", "-diff", str(MODULE_DIR)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "variables, message",
    [
        ({"name": "Bad_Name", "mode": "loopback"}, "name must be 1-8 characters"),
        ({"name": "toolongname", "mode": "loopback"}, "name must be 1-8 characters"),
        ({"name": "ok", "mode": "vm"}, "mode must be"),
        ({"name": "ok", "mode": "loopback", "rate_mbit": -1}, "rate_mbit must be"),
        ({"name": "ok", "mode": "loopback", "state_dir": "relative/dir"}, "state_dir must be"),
        ({"name": "ok", "mode": "loopback", "state_dir": "/srv/../etc"}, "state_dir must be"),
    ],
)
def test_variables_are_validated(module, tmp_path, variables, message):
    variables = {"state_dir": str(tmp_path / "state"), **variables}
    tf = module(**variables)
    proc = tf.plan(check=False)
    assert proc.returncode != 0
    assert message in " ".join(proc.stderr.split())


@pytest.mark.parametrize(
    "env, message",
    [
        ({"TELESCOPE_NAME": "x;rm -rf /"}, "name must be"),
        ({"TELESCOPE_NAME": ""}, "name must be"),
        ({"TELESCOPE_MODE": "host"}, "mode must be"),
        ({"TELESCOPE_STATE_DIR": "relative"}, "state_dir must be an absolute path"),
        ({"TELESCOPE_STATE_DIR": "/"}, "state_dir must be a normalised path"),
        ({"TELESCOPE_RATE_MBIT": "1e9"}, "rate_mbit must be"),
        ({"TELESCOPE_LOSS_PERCENT": "101"}, "loss_percent must be at most 100"),
    ],
)
def test_script_validates_its_inputs(tmp_path, env, message):
    state_dir = tmp_path / "state"
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TELESCOPE_NAME": "ok",
        "TELESCOPE_MODE": "loopback",
        "TELESCOPE_STATE_DIR": str(state_dir),
    }
    for action in ("create", "destroy"):
        proc = subprocess.run(
            ["/bin/sh", str(SCRIPT), action], env={**base, **env}, capture_output=True, text=True
        )
        assert proc.returncode == 1
        assert message in proc.stderr
    assert not state_dir.exists()


# ---------------------------------------------------------------- loopback mode


def test_loopback_apply_and_destroy(module, tmp_path):
    name = unique_name()
    state_dir = tmp_path / "state dir"  # a space, to exercise quoting
    tf = module(name=name, mode="loopback", state_dir=str(state_dir), rate_mbit=50, delay_ms=5)
    tf.apply()
    out = tf.outputs()

    assert out["mode"] == "loopback"
    assert out["state_dir"] == str(state_dir)
    assert out["scratch_dir"] == str(state_dir / "scratch")
    assert out["status_file"] == str(state_dir / "status.json")
    assert out["shaping"] == {"rate_mbit": 50, "delay_ms": 5, "loss_percent": 0}
    for side in ("server", "client"):
        assert out["endpoints"][side] == {"namespace": None, "address": "127.0.0.1", "interface": "lo"}
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert Path(out["scratch_dir"]).is_dir()

    status = read_status(out)
    assert status["schema_version"] == 1
    assert status["name"] == name
    assert status["mode"] == "loopback"
    assert status["endpoints"] == out["endpoints"]
    assert status["shaping"]["rate_mbit"] == 50
    assert status["shaping"]["applied"] is False
    assert "loopback" in status["shaping"]["reason"]
    assert status["impairment"]["requested"] is True
    assert status["impairment"]["available"] is False
    assert status["impairment"]["applied"] is False
    assert "loopback" in status["impairment"]["reason"]

    # A second apply is a no-op.
    assert "0 added, 0 changed, 0 destroyed" in tf.apply().stdout

    tf.destroy()
    assert not state_dir.exists()
    tf.destroy()  # nothing left to do; still succeeds


def test_custom_scratch_dir_is_kept(module, tmp_path):
    state_dir = tmp_path / "state"
    scratch = tmp_path / "scratch"
    tf = module(name=unique_name(), mode="loopback", state_dir=str(state_dir), scratch_dir=str(scratch))
    tf.apply()
    assert tf.outputs()["scratch_dir"] == str(scratch)
    assert scratch.is_dir() and state_dir.is_dir()
    (scratch / "data").write_text("x")
    tf.destroy()
    assert not state_dir.exists()
    assert (scratch / "data").exists()


def test_foreign_state_dir_is_refused(module, tmp_path):
    state_dir = tmp_path / "precious"
    state_dir.mkdir()
    (state_dir / "keep.txt").write_text("not yours")
    tf = module(name=unique_name(), mode="loopback", state_dir=str(state_dir))
    proc = tf.apply(check=False)
    assert proc.returncode != 0
    assert "refusing to take it over" in " ".join(proc.stderr.split())
    tf.destroy()
    assert (state_dir / "keep.txt").read_text() == "not yours"


def test_failed_create_names_the_step_and_rolls_back(module, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    state_dir = blocker / "state"
    tf = module(name=unique_name(), mode="loopback", state_dir=str(state_dir))
    proc = tf.apply(check=False)
    assert proc.returncode != 0
    stderr = " ".join(proc.stderr.split())
    assert "failed at step 'state-dir'" in stderr
    assert "Not a directory" in stderr
    tf.destroy()
    assert not state_dir.exists()


# ---------------------------------------------------------------- netns mode


@needs_root
@needs_iperf3
def test_netns_apply_iperf3_destroy(module, tmp_path):
    name = unique_name()
    state_dir = tmp_path / "state"
    tf = module(name=name, mode="netns", state_dir=str(state_dir))
    tf.apply()
    out = tf.outputs()
    server_ns, client_ns = netns_names(name)
    server_if, client_if = veth_names(name)

    assert out["mode"] == "netns"
    assert out["endpoints"] == {
        "server": {"namespace": server_ns, "address": SERVER_ADDR, "interface": server_if},
        "client": {"namespace": client_ns, "address": CLIENT_ADDR, "interface": client_if},
    }
    for ns, ifname, addr in ((server_ns, server_if, SERVER_ADDR), (client_ns, client_if, CLIENT_ADDR)):
        assert netns_exists(ns)
        (link,) = ip_json("-n", ns, "addr", "show", "dev", ifname)
        assert "UP" in link["flags"]
        assert link["link_type"] == "ether"
        assert {(a["local"], a["prefixlen"]) for a in link["addr_info"] if a["family"] == "inet"} == {(addr, 24)}
        (lo,) = ip_json("-n", ns, "link", "show", "dev", "lo")
        assert "UP" in lo["flags"]
        assert not link_in_root_ns(ifname)

    status = read_status(out)
    assert status["mode"] == "netns"
    assert status["endpoints"] == out["endpoints"]
    assert status["shaping"] == {
        "rate_mbit": 0, "applied": False, "qdisc": None, "burst_bytes": None, "reason": None,
    }
    assert status["impairment"]["requested"] is False
    assert status["impairment"]["applied"] is False
    assert isinstance(status["impairment"]["available"], bool)

    bps = iperf3_bps(out["endpoints"], seconds=1)
    assert bps > 100e6, f"unshaped veth only reached {bps / 1e6:.0f} Mbit/s"

    # Processes still running in the namespaces are killed by destroy.
    sleepers = [start_in_ns(ns, "sleep", "60") for ns in (server_ns, client_ns)]
    try:
        deadline = time.monotonic() + 5
        while any(subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout == ""
                  for ns in (server_ns, client_ns)) and time.monotonic() < deadline:
            time.sleep(0.01)
        tf.destroy()
        for proc in sleepers:
            assert proc.wait(timeout=5) != 0
    finally:
        for proc in sleepers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert_nothing_left(name, state_dir)


@needs_root
@needs_iperf3
def test_netns_rate_limit_100mbit(module, tmp_path):
    name = unique_name()
    tf = module(name=name, mode="netns", state_dir=str(tmp_path / "state"), rate_mbit=100)
    tf.apply()
    out = tf.outputs()
    status = read_status(out)
    assert status["shaping"]["applied"] is True
    assert status["shaping"]["qdisc"] == "tbf"
    assert status["shaping"]["rate_mbit"] == 100
    for ns, ifname in zip(netns_names(name), veth_names(name)):
        qdiscs = ip_json_tc(ns, ifname)
        assert any(q["kind"] == "tbf" for q in qdiscs), qdiscs

    forward = iperf3_bps(out["endpoints"], seconds=2)
    reverse = iperf3_bps(out["endpoints"], seconds=1, reverse=True)
    # rate_mbit counts Ethernet frames: TCP goodput is ~95.5% of it at MTU 1500.
    for label, bps in (("client->server", forward), ("server->client", reverse)):
        assert 90e6 <= bps <= 105e6, f"{label}: {bps / 1e6:.1f} Mbit/s, want ~100"

    tf.destroy()
    assert_nothing_left(name, tmp_path / "state")


def ip_json_tc(ns: str, ifname: str) -> list[dict]:
    out = subprocess.run(
        ["tc", "-n", ns, "-j", "qdisc", "show", "dev", ifname], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


@needs_root
def test_netns_delay_and_loss_do_not_fail_without_netem(module, tmp_path):
    name = unique_name()
    tf = module(name=name, mode="netns", state_dir=str(tmp_path / "state"), delay_ms=20, loss_percent=1)
    tf.apply()
    out = tf.outputs()
    assert out["shaping"] == {"rate_mbit": 0, "delay_ms": 20, "loss_percent": 1}
    impairment = read_status(out)["impairment"]
    assert impairment["delay_ms"] == 20
    assert impairment["loss_percent"] == 1
    assert impairment["requested"] is True
    if impairment["available"]:
        assert impairment["applied"] is True
        assert impairment["reason"] is None
        for ns, ifname in zip(netns_names(name), veth_names(name)):
            assert any(q["kind"] == "netem" for q in ip_json_tc(ns, ifname))
    else:
        assert impairment["applied"] is False
        assert "netem" in impairment["reason"]
    tf.destroy()
    assert_nothing_left(name, tmp_path / "state")


@needs_root
@pytest.mark.parametrize("keep_partial", [False, True], ids=["rolled-back", "kept-partial"])
def test_destroy_after_half_failed_create_leaves_nothing(module, tmp_path, keep_partial):
    name = unique_name()
    state_dir = tmp_path / "state"
    tf = module(name=name, mode="netns", state_dir=str(state_dir), rate_mbit=100)
    env = {"TELESCOPE_LOCAL_FAIL_AT": "shaping-client"}
    if keep_partial:
        env["TELESCOPE_LOCAL_KEEP_ON_FAILURE"] = "1"
    proc = tf.apply(check=False, extra_env=env)
    assert proc.returncode != 0
    assert "failed at step 'shaping-client'" in " ".join(proc.stderr.split())

    sleeper = None
    try:
        if keep_partial:
            # Namespaces and state_dir were kept; a process runs inside one.
            assert all(map(netns_exists, netns_names(name)))
            assert state_dir.is_dir()
            sleeper = start_in_ns(netns_names(name)[0], "sleep", "60")
        else:
            assert_nothing_left(name, state_dir)
        tf.destroy()
        if sleeper is not None:
            assert sleeper.wait(timeout=5) != 0
    finally:
        if sleeper is not None and sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()
    assert_nothing_left(name, state_dir)


@needs_root
def test_destroy_when_everything_is_already_gone(module, tmp_path):
    name = unique_name()
    state_dir = tmp_path / "state"
    tf = module(name=name, mode="netns", state_dir=str(state_dir))
    tf.apply()
    for ns in netns_names(name):
        subprocess.run(["ip", "netns", "del", ns], check=True)
    shutil.rmtree(state_dir)
    tf.destroy()
    assert_nothing_left(name, state_dir)


@needs_root
def test_reapply_after_crash_cleans_leftovers(module, tmp_path):
    """A kept partial create (as after a crash) is cleaned up by the next apply."""
    name = unique_name()
    tf = module(name=name, mode="netns", state_dir=str(tmp_path / "state"))
    env = {"TELESCOPE_LOCAL_FAIL_AT": "link-client", "TELESCOPE_LOCAL_KEEP_ON_FAILURE": "1"}
    assert tf.apply(check=False, extra_env=env).returncode != 0
    assert all(map(netns_exists, netns_names(name)))
    tf.apply()
    status = read_status(tf.outputs())
    assert status["name"] == name
    tf.destroy()
    assert_nothing_left(name, tmp_path / "state")
