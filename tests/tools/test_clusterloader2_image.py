"""clusterloader2 from a container image: the docker command line, and runs through the fake_docker double."""

import json
import os
import sys
from pathlib import Path

import pytest

from pytest_telescope.errors import ToolError
from pytest_telescope.tools import clusterloader2
from pytest_telescope.tools.clusterloader2 import Image

DATA = Path(__file__).parents[1] / "data" / "clusterloader2"
FAKE_DOCKER = str(Path(__file__).parents[1] / "doubles" / "fake_docker")


def container_argv(runtime: str = "/usr/bin/docker", uid: int = 1000, **params) -> list[str]:
    return clusterloader2.container_command(
        Image("registry.example/clusterloader2:v1", runtime),
        "/home/user/.kube/config",
        "/bench/run-1/report",
        "/bench/run-1/overrides.yaml",
        config_dir="/repo/clusterloader2",
        uid=uid,
        gid=2000,
        container_name="clusterloader2-test",
        **{"testconfig": "load/config.yaml", **params},
    )


# The command line


def test_container_command_mounts_the_files_and_points_cl2_at_them():
    argv = container_argv(provider="gke", prometheus=True, pods_per_node=30)
    image_at = argv.index("registry.example/clusterloader2:v1")
    assert argv[:image_at] == [
        "/usr/bin/docker", "run", "--rm", "--network", "host", "--name", "clusterloader2-test", "--user", "1000:2000",
        "--volume", "/home/user/.kube/config:/cl2/kubeconfig:ro",
        "--volume", "/bench/run-1/overrides.yaml:/cl2/overrides.yaml:ro",
        "--volume", "/repo/clusterloader2:/cl2/config:ro",
        "--volume", "/bench/run-1/report:/cl2/report",
    ]  # fmt: skip
    assert argv[image_at + 1 : image_at + 6] == [
        "--testconfig=/cl2/config/load/config.yaml",
        "--testoverrides=/cl2/overrides.yaml",
        "--provider=gke",
        "--kubeconfig=/cl2/kubeconfig",
        "--report-dir=/cl2/report",
    ]


def test_container_command_is_the_binarys_command_with_container_paths():
    argv = container_argv(provider="aks", nodes=5, prometheus=True, prometheus_scrape_kubelets=True)
    cl2_argv = argv[argv.index("registry.example/clusterloader2:v1") :]
    assert cl2_argv == clusterloader2.command(
        "registry.example/clusterloader2:v1",
        "/cl2/kubeconfig",
        "/cl2/report",
        "/cl2/overrides.yaml",
        testconfig="/cl2/config/load/config.yaml",
        provider="aks",
        nodes=5,
        prometheus=True,
        prometheus_scrape_kubelets=True,
    )
    assert not [arg for arg in cl2_argv if "/bench/" in arg or "/home/user" in arg or "/repo/" in arg]


def test_rootless_podman_keeps_the_users_id():
    assert "--userns=keep-id" in container_argv(runtime="/usr/bin/podman")
    assert "--userns=keep-id" not in container_argv(runtime="/usr/bin/podman", uid=0)
    assert "--userns=keep-id" not in container_argv(runtime="/usr/bin/docker")


@pytest.mark.parametrize("testconfig", ["/etc/config.yaml", "../outside/config.yaml", "load/../../config.yaml"])
def test_a_testconfig_outside_the_mounted_directory_is_refused(testconfig):
    with pytest.raises(ValueError, match=r"must be inside /repo/clusterloader2: only that directory is in the container"):
        container_argv(testconfig=testconfig)


@pytest.mark.parametrize("kubeconfig", ["kube.conf", "/home/user/a:b/config"])
def test_a_path_docker_cannot_mount_is_refused(kubeconfig):
    with pytest.raises(ValueError, match=rf"cannot mount '{kubeconfig}' in the container"):
        clusterloader2.container_command(
            Image("image", "docker"), kubeconfig, "/r", "/o.yaml", config_dir="/c", uid=1, gid=1, container_name="n", testconfig="t.yaml"
        )


def test_the_unknown_parameters_of_a_case_are_refused_as_for_the_binary():
    with pytest.raises(ValueError, match="unknown parameter 'no_such_option'"):
        container_argv(no_such_option=1)


# Finding the container runtime


@pytest.fixture
def bin_dir(tmp_path, monkeypatch):
    """An empty directory as the whole PATH; a test links the runtimes it wants there."""
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", str(directory))
    return directory


def test_pinned_is_the_default_image_and_docker_comes_before_podman(bin_dir):
    for runtime in ("docker", "podman"):
        (bin_dir / runtime).symlink_to(FAKE_DOCKER)
    assert clusterloader2.image("pinned") == Image(clusterloader2.DEFAULT_IMAGE, str(bin_dir / "docker"))
    assert clusterloader2.image("registry.example/cl2:v2").name == "registry.example/cl2:v2"


def test_podman_where_docker_is_missing(bin_dir):
    (bin_dir / "podman").symlink_to(FAKE_DOCKER)
    assert clusterloader2.image().runtime == str(bin_dir / "podman")


def test_no_runtime_says_what_to_install_and_what_to_do_instead(bin_dir):
    with pytest.raises(ToolError) as raised:
        clusterloader2.image("pinned", "or pass --use-the-binary")
    assert str(raised.value) == (
        "docker or podman: not found on PATH: install Docker or Podman to run clusterloader2 from "
        f"{clusterloader2.DEFAULT_IMAGE}; or pass --use-the-binary"
    )


# The run, with fake_docker standing in for docker and fake_clusterloader2 for the image


@pytest.fixture
def config_dir(tmp_path):
    (tmp_path / "configs" / "load").mkdir(parents=True)
    (tmp_path / "configs" / "load" / "config.yaml").write_text("name: load\n")
    return tmp_path / "configs"


@pytest.fixture
def docker_log(tmp_path, monkeypatch):
    """The calls fake_docker received, one argument list each."""
    path = tmp_path / "docker-calls.jsonl"
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(path))
    return lambda: [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def image_run(tmp_path, config_dir, monkeypatch, report: str, status: int, timeout: float = 60, **params):
    monkeypatch.setenv("FAKE_CL2_REPORT", str(DATA / report))
    monkeypatch.setenv("FAKE_CL2_EXIT", str(status))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    case = {"testconfig": "load/config.yaml", **params}
    return clusterloader2.run(
        Image(clusterloader2.DEFAULT_IMAGE, FAKE_DOCKER), str(kubeconfig), tmp_path / "work", case, config_dir=config_dir, timeout=timeout
    )


def test_run_from_the_image_returns_the_samples_of_the_report(tmp_path, config_dir, monkeypatch, docker_log):
    samples = image_run(tmp_path, config_dir, monkeypatch, "load", 0, pods_per_node=30, provider="gke")
    assert samples == clusterloader2.parse(DATA / "load")
    # What CL2 in the container was given, with the container paths mapped back to the host's.
    call = json.loads((tmp_path / "work" / "report" / "fake-clusterloader2-call.json").read_text())
    assert call["argv"][:5] == [
        f"--testconfig={config_dir / 'load' / 'config.yaml'}",
        f"--testoverrides={tmp_path / 'work' / 'overrides.yaml'}",
        "--provider=gke",
        f"--kubeconfig={tmp_path / 'kubeconfig'}",
        f"--report-dir={tmp_path / 'work' / 'report'}",
    ]
    assert call["overrides"] == "CL2_PODS_PER_NODE: 30\n"
    ((command, *options),) = docker_log()
    assert command == "run"
    assert f"{tmp_path / 'kubeconfig'}:/cl2/kubeconfig:ro" in options
    assert options[options.index("--user") + 1] == f"{os.getuid()}:{os.getgid()}"


def test_with_an_exec_plugin_kubeconfig_cl2_reads_a_token_the_host_keeps_fresh(tmp_path, config_dir, monkeypatch, docker_log):
    plugin = tmp_path / "fake_plugin.py"
    plugin.write_text(
        "import json\nprint(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1', 'kind': 'ExecCredential',"
        " 'status': {'token': 'short-lived', 'expirationTimestamp': '2099-01-01T00:00:00Z'}}))\n"
    )
    kubeconfig = tmp_path / "eks.kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: eks\n"
        "clusters: [{name: eks, cluster: {server: 'https://eks.example'}}]\n"
        "contexts: [{name: eks, context: {cluster: eks, user: eks}}]\n"
        f"users: [{{name: eks, user: {{exec: {{apiVersion: client.authentication.k8s.io/v1beta1, command: {sys.executable},"
        f" args: [{plugin}]}}}}}}]\n"
    )
    monkeypatch.setenv("FAKE_CL2_REPORT", str(DATA / "load"))
    monkeypatch.setenv("FAKE_CL2_EXIT", "0")
    case = {"testconfig": "load/config.yaml", "provider": "eks"}
    work = tmp_path / "work"
    clusterloader2.run(Image("image", FAKE_DOCKER), str(kubeconfig), work, case, config_dir=config_dir, timeout=60)
    ((_, *options),) = docker_log()
    assert f"{work / 'auth'}:/cl2/auth:ro" in options and not [o for o in options if str(kubeconfig) in o]
    call = json.loads((work / "report" / "fake-clusterloader2-call.json").read_text())
    assert f"--kubeconfig={work / 'auth' / 'kubeconfig'}" in call["argv"]
    assert call["token"] == "short-lived"
    assert not (work / "auth" / "token").exists()  # gone with the run


def test_run_from_the_image_fails_with_cl2s_text(tmp_path, config_dir, monkeypatch, docker_log):
    with pytest.raises(clusterloader2.ClusterLoaderFailed) as raised:
        image_run(tmp_path, config_dir, monkeypatch, "failed", 1)
    message = str(raised.value)
    assert message.startswith(f"{FAKE_DOCKER} run --rm --network host")
    assert "exited with status 1; " in message
    assert "1 objects timed out: Deployments: pod-startup-1/resource-consumer-0" in message
    assert len(raised.value.samples) == 3


def test_a_missing_kubeconfig_is_an_error_before_docker_runs(tmp_path, config_dir, monkeypatch, docker_log):
    case = {"testconfig": "load/config.yaml"}
    with pytest.raises(ToolError, match=rf"no kubeconfig file {tmp_path / 'none'} to mount in the container"):
        clusterloader2.run(Image("image", FAKE_DOCKER), str(tmp_path / "none"), tmp_path / "work", case, config_dir=config_dir, timeout=60)
    assert docker_log() == []


def test_a_run_that_times_out_removes_its_container(tmp_path, config_dir, monkeypatch, docker_log):
    monkeypatch.setenv("FAKE_DOCKER_SLEEP", "30")
    with pytest.raises(ToolError, match=r"did not finish within 0.5 s"):
        image_run(tmp_path, config_dir, monkeypatch, "load", 0, timeout=0.5)
    started, removed = docker_log()
    assert removed == ["rm", "--force", started[started.index("--name") + 1]]


def test_the_double_refuses_a_report_dir_on_a_read_only_mount(tmp_path):
    completed = os.system(
        f"{FAKE_DOCKER} run --rm --network host --name n --user {os.getuid()}:{os.getgid()} --volume {tmp_path}:/out:ro "
        "image --report-dir=/out 2>/dev/null"
    )
    assert os.waitstatus_to_exitcode(completed) == 125


def test_a_testconfig_the_container_cannot_see_is_a_tool_error_of_the_run(tmp_path, config_dir, monkeypatch, docker_log):
    with pytest.raises(ToolError, match=r"run ghcr\.io/azure/clusterloader2:\S+: testconfig '\.\./elsewhere\.yaml' must be inside"):
        image_run(tmp_path, config_dir, monkeypatch, "load", 0, testconfig="../elsewhere.yaml")
    assert docker_log() == []
