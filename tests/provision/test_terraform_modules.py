"""Checks of the Terraform modules in ``terraform/`` that need no cloud account.

* Static, on the HCL parsed with python-hcl2, for every module, the child
  modules of ``terraform/modules`` included: each variable has a type and a
  description, each output a description, and each resource that takes tags
  (labels on GCP) gets the common ones. For the cluster modules also: the
  common inputs and outputs, a sensitive kubeconfig, and provider versions
  with an upper bound. For the child modules: no provider at all, and every
  call of one passes what it declares.
* ``terraform fmt -check``, for real.
* Rendering, for real: ``tags.tf``, ``kubeconfig.tf`` and the child modules use
  only variables, locals and built-in resources, so they are applied offline
  with made-up inputs, and the kubeconfig is loaded by the Python kubernetes
  client. The child modules are also validated offline.
* ``terraform validate`` of a cluster module needs the providers: it runs when
  ``terraform init`` can download them and skips, with the reason, when it
  cannot.

Terraform always runs on a copy in ``tmp_path``, so nothing is written into
the module directories.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import hcl2
import pytest
import yaml
from hcl2.utils import SerializationOptions
from kubernetes import client, config

from pytest_telescope import scenario
from pytest_telescope.provision.pool import PROVIDERS

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "pytest_telescope" / "terraform"
CHILD_MODULES_DIR = TERRAFORM_DIR / "modules"


def module_dirs(parent: Path) -> list[Path]:
    return sorted(path for path in parent.iterdir() if path.is_dir() and any(path.glob("*.tf")))


CHILD_MODULE_DIRS = module_dirs(CHILD_MODULES_DIR)
MODULE_DIRS = module_dirs(TERRAFORM_DIR) + CHILD_MODULE_DIRS
CLUSTER_MODULES = ["aws", "azure", "gcp"]
TERRAFORM = shutil.which("terraform") or shutil.which("tofu")

COMMON_TAGS = ["run_id", "scenario", "owner", "creation_time", "deletion_due_time"]
COMMON_INPUTS = [
    "cluster_name",
    "region",
    "kubernetes_version",
    "system_pool",
    "node_pools",
    "run_id",
    "scenario",
    "owner",
    "deletion_delay",
    "tags",
]
NODE_POOL_FIELDS = ["name", "count", "machine_size", "zones", "labels", "taints", "os_disk_size_gb", "os_disk_type"]
COMMON_OUTPUTS = ["cluster_name", "kubeconfig", "node_pools", "region"]

# Terraform's own resource types, the only ones a child module may use.
BUILT_IN_RESOURCES = {"terraform_data"}
# Resource types that take neither tags nor labels.
UNTAGGABLE = {
    "terraform_data",
    "aws_iam_role_policy",
    "aws_iam_role_policy_attachment",
    "aws_route_table_association",
    "google_compute_network",
    "google_compute_subnetwork",
}
# Where the common tags go when it is not the provider's usual top-level
# argument (tags for aws/azurerm, labels for google).
TAG_PATHS = {
    "azurerm_kubernetes_cluster": [("tags",), ("default_node_pool", "tags")],
    "google_container_cluster": [("resource_labels",)],
    "google_container_node_pool": [("node_config", "resource_labels")],
}
PROVIDER_TAG_PATHS = {"aws": [("tags",)], "azurerm": [("tags",)], "google": [("labels",)]}

PARSE_OPTIONS = SerializationOptions(with_comments=False, strip_string_quotes=True, explicit_blocks=False)

needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="terraform (or tofu) is not on PATH")


def parse_module(module_dir: Path) -> dict[str, list]:
    """The top-level blocks of all of a module's .tf files, by block type."""
    blocks: dict[str, list] = {}
    for path in sorted(module_dir.glob("*.tf")):
        with path.open() as handle:
            for kind, entries in hcl2.load(handle, serialization_options=PARSE_OPTIONS).items():
                blocks.setdefault(kind, []).extend(entries)
    return blocks


def named(blocks: dict[str, list], kind: str) -> dict[str, dict]:
    """``variable``/``output`` blocks by name."""
    return {name: body for entry in blocks.get(kind, []) for name, body in entry.items()}


def resources(blocks: dict[str, list]) -> list[tuple[str, str, dict]]:
    return [
        (resource_type, name, body)
        for entry in blocks.get("resource", [])
        for resource_type, instances in entry.items()
        for name, body in instances.items()
    ]


def local_values(blocks: dict[str, list]) -> dict:
    return {name: value for entry in blocks.get("locals", []) for name, value in entry.items()}


def module_name(module_dir: Path) -> str:
    return module_dir.relative_to(TERRAFORM_DIR).as_posix()


def module_calls(blocks: dict[str, list]) -> dict[str, dict]:
    """``module`` blocks by name."""
    return named(blocks, "module")


def child_module_dir(module_dir: Path, call: dict) -> Path:
    return (module_dir / call["source"]).resolve()


def tag_paths(resource_type: str) -> list[tuple[str, ...]] | None:
    provider = resource_type.split("_", 1)[0]
    return TAG_PATHS.get(resource_type, PROVIDER_TAG_PATHS.get(provider))


def value_at(body: dict, path: tuple[str, ...]):
    value = body
    for key in path:
        if isinstance(value, list):  # a nested block
            value = value[0] if value else {}
        value = value.get(key) if isinstance(value, dict) else None
    return value


@pytest.fixture(params=MODULE_DIRS, ids=module_name)
def module_blocks(request) -> tuple[str, dict[str, list]]:
    return module_name(request.param), parse_module(request.param)


@pytest.fixture(params=CLUSTER_MODULES)
def cluster_blocks(request) -> tuple[str, dict[str, list]]:
    return request.param, parse_module(TERRAFORM_DIR / request.param)


def test_cluster_modules_exist():
    assert set(CLUSTER_MODULES) <= {module_name(path) for path in MODULE_DIRS}
    assert CHILD_MODULE_DIRS, "no child module in terraform/modules"


def test_every_variable_has_a_type_and_a_description(module_blocks):
    module, blocks = module_blocks
    problems = [
        f"terraform/{module}: variable {name!r} has no {key}"
        for name, body in named(blocks, "variable").items()
        for key in ("type", "description")
        if not body.get(key)
    ]
    assert not problems, "\n".join(problems)


def test_every_output_has_a_description(module_blocks):
    module, blocks = module_blocks
    problems = [
        f"terraform/{module}: output {name!r} has no description"
        for name, body in named(blocks, "output").items()
        if not body.get("description")
    ]
    assert not problems, "\n".join(problems)


def test_every_taggable_resource_gets_the_common_tags(module_blocks):
    module, blocks = module_blocks
    problems = []
    for resource_type, name, body in resources(blocks):
        if resource_type in UNTAGGABLE:
            continue
        paths = tag_paths(resource_type)
        if paths is None:
            problems.append(f"{resource_type}.{name}: unknown provider; add its type to UNTAGGABLE or TAG_PATHS")
            continue
        common = "local.labels" if resource_type.startswith("google_") else "local.tags"
        for path in paths:
            value = value_at(body, path)
            if not (isinstance(value, str) and common in value):
                problems.append(f"{resource_type}.{name}: {'.'.join(path)} = {value!r} does not use {common}")
    assert not problems, f"terraform/{module}:\n" + "\n".join(problems)


def test_common_tags_are_defined_where_resources_take_tags(module_blocks):
    """local.tags is the common-tags child module's output, fed the module's own run_id, scenario, owner,
    deletion_delay and tags; and that child module's tags hold every common key."""
    module, blocks = module_blocks
    if all(resource_type in UNTAGGABLE for resource_type, _, _ in resources(blocks)):
        pytest.skip(f"terraform/{module} has no resource that takes tags")
    tags = local_values(blocks).get("tags")
    assert isinstance(tags, str), f"terraform/{module}: no local.tags"
    source = re.fullmatch(r"\$\{module\.(\w+)\.tags\}", tags)
    assert source, f"terraform/{module}: local.tags = {tags!r} is not a module's tags output"
    call = module_calls(blocks)[source.group(1)]
    child_dir = child_module_dir(TERRAFORM_DIR / module, call)
    assert child_dir == CHILD_MODULES_DIR / "common-tags", f"terraform/{module}: local.tags comes from {call['source']}"
    passed = {name: call.get(name) for name in ("run_id", "scenario", "owner", "deletion_delay", "extra_tags")}
    expected = {name: f"${{var.{name}}}" for name in ("run_id", "scenario", "owner", "deletion_delay")}
    assert passed == {**expected, "extra_tags": "${var.tags}"}, (
        f"terraform/{module}: module.{source.group(1)} gets {passed}"
    )

    child_tags = local_values(parse_module(child_dir)).get("tags", "")
    missing = [key for key in COMMON_TAGS if not re.search(rf"\b{key}\s*=", child_tags)]
    assert not missing, f"terraform/{module_name(child_dir)}: local.tags lacks {missing}: {child_tags}"
    assert "var.deletion_delay" in child_tags, (
        f"terraform/{module_name(child_dir)}: deletion_due_time must come from var.deletion_delay"
    )


def test_module_calls_pass_what_the_child_module_declares(cluster_blocks):
    """terraform validate of the cluster modules needs their providers; this catches a missing or
    misspelt child module input without them."""
    module, blocks = cluster_blocks
    problems = []
    for name, call in module_calls(blocks).items():
        child_dir = child_module_dir(TERRAFORM_DIR / module, call)
        if child_dir.parent != CHILD_MODULES_DIR or not child_dir.is_dir():
            problems.append(f"module.{name}: source {call['source']!r} is not a directory of terraform/modules")
            continue
        variables = named(parse_module(child_dir), "variable")
        arguments = set(call) - {"source"}
        required = {variable for variable, body in variables.items() if "default" not in body}
        unknown, unset = sorted(arguments - set(variables)), sorted(required - arguments)
        problems += [f"module.{name}: {argument!r} is not a variable of {call['source']}" for argument in unknown]
        problems += [f"module.{name}: required variable {variable!r} is not set" for variable in unset]
    assert not problems, f"terraform/{module}:\n" + "\n".join(problems)


@pytest.mark.parametrize("child_dir", CHILD_MODULE_DIRS, ids=module_name)
def test_child_module_needs_no_provider(child_dir):
    """So that it renders offline, in these tests as anywhere."""
    blocks = parse_module(child_dir)
    module = module_name(child_dir)
    assert "provider" not in blocks, f"terraform/{module}: configures a provider"
    assert "data" not in blocks, f"terraform/{module}: reads a data source"
    assert not any("required_providers" in settings for settings in blocks.get("terraform", [])), (
        f"terraform/{module}: requires a provider"
    )
    foreign = sorted({resource_type for resource_type, _, _ in resources(blocks)} - BUILT_IN_RESOURCES)
    assert not foreign, f"terraform/{module}: uses provider resources {foreign}"


def test_cluster_module_interface(cluster_blocks):
    module, blocks = cluster_blocks
    variables = named(blocks, "variable")
    outputs = named(blocks, "output")
    missing_inputs = [name for name in COMMON_INPUTS if name not in variables]
    assert not missing_inputs, f"terraform/{module}: no variable {missing_inputs}"
    node_pool_type = variables["node_pools"]["type"]
    missing_fields = [field for field in NODE_POOL_FIELDS if not re.search(rf"\b{field}\s*=", node_pool_type)]
    assert not missing_fields, f"terraform/{module}: node_pools type lacks {missing_fields}"
    missing_outputs = [name for name in COMMON_OUTPUTS if name not in outputs]
    assert not missing_outputs, f"terraform/{module}: no output {missing_outputs}"
    assert outputs["kubeconfig"].get("sensitive") is True, f"terraform/{module}: output kubeconfig must be sensitive"


NODE_POOL_RESOURCES = {"aws": "aws_eks_node_group", "azure": "azurerm_kubernetes_cluster_node_pool", "gcp": "google_container_node_pool"}


def test_a_fixed_pools_count_is_terraforms_an_autoscaled_pools_the_autoscalers(cluster_blocks):
    """The cluster CRUD suite scales a pool by applying the module again with another count: the
    resource of the pools of a fixed size must not ignore it. That of the autoscaled ones must."""
    module, blocks = cluster_blocks
    pools = {name: body for resource_type, name, body in resources(blocks) if resource_type == NODE_POOL_RESOURCES[module]}
    assert sorted(pools) == ["autoscaled", "this"], f"terraform/{module}: node pool resources {sorted(pools)}"
    assert pools["this"]["for_each"].endswith("if pool.max_count == null}}")
    assert pools["autoscaled"]["for_each"].endswith("if pool.max_count != null}}")
    ignored = [change for lifecycle in pools["this"].get("lifecycle", []) for change in lifecycle.get("ignore_changes", [])]
    assert not ignored, f"terraform/{module}: a fixed pool ignores changes to {ignored}"
    (autoscaled_lifecycle,) = pools["autoscaled"]["lifecycle"]
    assert len(autoscaled_lifecycle["ignore_changes"]) == 1
    assert "count" in autoscaled_lifecycle["ignore_changes"][0] or "desired_size" in autoscaled_lifecycle["ignore_changes"][0]


def test_cluster_module_pins_its_providers(cluster_blocks):
    module, blocks = cluster_blocks
    (settings,) = blocks["terraform"]
    assert settings.get("required_version"), f"terraform/{module}: no required_version"
    providers = {name: spec for entry in settings["required_providers"] for name, spec in entry.items()}
    assert providers, f"terraform/{module}: no required_providers"
    for name, spec in providers.items():
        assert spec["source"].startswith("hashicorp/"), f"terraform/{module}: provider {name} is {spec['source']}"
        assert re.search(r"~>|<", spec.get("version", "")), (
            f"terraform/{module}: provider {name} version {spec.get('version')!r} has no upper bound"
        )


@needs_terraform
def test_terraform_fmt_is_clean():
    result = subprocess.run(
        [TERRAFORM, "fmt", "-check", "-recursive", "-diff", "-no-color", str(TERRAFORM_DIR)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"terraform fmt -check: files need formatting\n{result.stdout}{result.stderr}"


# --- rendering with built-in Terraform only -------------------------------------------------


def run_terraform(work_dir: Path, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "TF_DATA_DIR": str(work_dir / ".terraform-data"),
    }
    result = subprocess.run(
        [TERRAFORM, f"-chdir={work_dir}", *args, "-no-color"],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        pytest.fail(f"terraform {args[0]} failed (status {result.returncode}) in {work_dir}\n" + "\n".join(lines[:20]))
    return result


def stage(tmp_path: Path, module: str, files: list[str], extra: dict[str, str]) -> Path:
    """A scratch root module: some files of ``terraform/<module>`` plus test-only files, next to a copy
    of ``terraform/modules``, so that their ``../modules/<name>`` sources resolve as in the repository."""
    shutil.copytree(CHILD_MODULES_DIR, tmp_path / CHILD_MODULES_DIR.name, dirs_exist_ok=True)
    work_dir = tmp_path / module
    work_dir.mkdir()
    for name in files:
        shutil.copy(TERRAFORM_DIR / module / name, work_dir / name)
    for name, text in extra.items():
        (work_dir / name).write_text(text)
    return work_dir


TAG_INPUTS = {
    "cluster_name": "ts-test",
    "region": "westus3",
    "run_id": "20260102T030405Z-ab12cd",
    "scenario": "iperf3",
    "owner": "Perf Team",
    "deletion_delay": "90m",
    "tags": {"team": "net", "owner": "someone else"},
}
MODULE_INPUTS = {"aws": {"zones": ["us-west-2a", "us-west-2b"]}, "azure": {}, "gcp": {"project_id": "test-project"}}


@needs_terraform
@pytest.mark.parametrize("module", CLUSTER_MODULES)
def test_common_tags_render_and_stay_put(module, tmp_path):
    outputs = 'output "tags" {\n  value = local.tags\n}\n'
    if module == "gcp":
        outputs += 'output "labels" {\n  value = local.labels\n}\n'
    inputs = {**TAG_INPUTS, **MODULE_INPUTS[module]}
    work_dir = stage(
        tmp_path,
        module,
        ["variables.tf", "tags.tf"],
        {"outputs.tf": outputs, "terraform.tfvars.json": json.dumps(inputs)},
    )
    run_terraform(work_dir, "init")
    run_terraform(work_dir, "apply", "-auto-approve")
    rendered = json.loads(run_terraform(work_dir, "output", "-json").stdout)

    tags = rendered["tags"]["value"]
    assert {key: tags[key] for key in ("run_id", "scenario", "owner", "team")} == {
        "run_id": "20260102T030405Z-ab12cd",
        "scenario": "iperf3",
        "owner": "Perf Team",
        "team": "net",
    }
    created = datetime.fromisoformat(tags["creation_time"].replace("Z", "+00:00"))
    due = datetime.fromisoformat(tags["deletion_due_time"].replace("Z", "+00:00"))
    assert due - created == timedelta(minutes=90)
    if module == "gcp":
        labels = rendered["labels"]["value"]
        assert labels["run_id"] == "20260102t030405z-ab12cd"
        assert labels["owner"] == "perf-team"
        assert all(re.fullmatch(r"[a-z0-9_-]{0,63}", value) for value in labels.values()), labels

    # A later plan must not move creation_time (and so every tag) again.
    plan = run_terraform(work_dir, "plan", "-detailed-exitcode", check=False)
    assert plan.returncode == 0, f"terraform plan wants changes after apply:\n{plan.stdout[-2000:]}"


FAKE_TOKEN = "fake-token-123"
CLUSTER_ENDPOINT = "https://203.0.113.10"
FAKE_CA_PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KUBECONFIG_STUB = """\
variable "region" {{
  type = string
}}

locals {{
  kubeconfig_cluster = {{
    name     = "ts-test"
    endpoint = "{endpoint}"
    ca_data  = "{ca_data}"
  }}
}}

output "kubeconfig" {{
  value     = module.kubeconfig.kubeconfig
  sensitive = true
}}
"""
# The exec plugin each module's kubeconfig must run, with its arguments, and whether the plugin is
# told the cluster (provideClusterInfo).
EXEC_PLUGINS = {
    "aws": (
        "aws",
        ["--region", "us-west-2", "eks", "get-token", "--cluster-name", "ts-test", "--output", "json"],
        False,
    ),
    "gcp": ("gke-gcloud-auth-plugin", ["--use_application_default_credentials"], True),
}


def fake_exec_plugin(bin_dir: Path, command: str, calls_file: Path) -> None:
    """A double of an exec credential plugin: records its call, prints a fixed token."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / command
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(calls_file)!r}, 'w') as calls:\n"
        "    json.dump({'argv': sys.argv[1:], 'exec_info': json.loads(os.environ['KUBERNETES_EXEC_INFO'])}, calls)\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1', 'kind': 'ExecCredential',\n"
        f"                  'status': {{'token': {FAKE_TOKEN!r}}}}}))\n"
    )
    script.chmod(0o755)


@needs_terraform
@pytest.mark.parametrize("module", sorted(EXEC_PLUGINS))
def test_exec_kubeconfig_loads_in_the_python_client(module, tmp_path, monkeypatch):
    stub = KUBECONFIG_STUB.format(endpoint=CLUSTER_ENDPOINT, ca_data=base64.b64encode(FAKE_CA_PEM).decode())
    work_dir = stage(tmp_path, module, ["kubeconfig.tf"], {"stub.tf": stub})
    run_terraform(work_dir, "init")
    run_terraform(work_dir, "apply", "-auto-approve", "-var", "region=us-west-2")
    kubeconfig = yaml.safe_load(run_terraform(work_dir, "output", "-raw", "kubeconfig").stdout)

    command, expected_argv, provides_cluster_info = EXEC_PLUGINS[module]
    calls_file = tmp_path / "calls.json"
    fake_exec_plugin(tmp_path / "bin", command, calls_file)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    configuration = client.Configuration()
    config.load_kube_config_from_dict(kubeconfig, client_configuration=configuration)

    assert configuration.host == CLUSTER_ENDPOINT
    assert configuration.auth_settings()["BearerToken"]["value"] == f"Bearer {FAKE_TOKEN}"
    assert Path(configuration.ssl_ca_cert).read_bytes() == FAKE_CA_PEM
    call = json.loads(calls_file.read_text())
    assert call["argv"] == expected_argv
    assert call["exec_info"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    told_cluster = call["exec_info"]["spec"].get("cluster", {}).get("server")
    assert told_cluster == (CLUSTER_ENDPOINT if provides_cluster_info else None), call["exec_info"]


NODE_POOL_INPUTS = {
    "system_pool": {"critical_addons_only": True, "labels": {"role": "system"}},
    "node_pools": [
        {
            "name": "client",
            "count": 2,
            "machine_size": "big",
            "zones": ["zone-b"],
            "taints": [{"key": "k", "effect": "NoExecute"}],
        },
        {"name": "server", "count": 0, "machine_size": "big", "os_disk_size_gb": 50, "os_disk_type": "ssd"},
    ],
}
NODE_POOLS_STUB = """\
module "node_pools" {
  source = "../modules/node-pools"

  system_pool   = var.system_pool
  node_pools    = var.node_pools
  default_zones = ["zone-a"]
}

output "node_pools" {
  value = module.node_pools
}
"""


@needs_terraform
@pytest.mark.parametrize("module", ["aws", "gcp"])
def test_node_pools_render_from_the_modules_variables(module, tmp_path):
    """The module's system_pool and node_pools, their optional attributes filled in, fit the child module's
    types, and come out as one map with the system pool and the default zones."""
    inputs = {**TAG_INPUTS, **MODULE_INPUTS[module], **NODE_POOL_INPUTS}
    work_dir = stage(
        tmp_path,
        module,
        ["variables.tf"],
        {"stub.tf": NODE_POOLS_STUB, "terraform.tfvars.json": json.dumps(inputs)},
    )
    run_terraform(work_dir, "init")
    run_terraform(work_dir, "apply", "-auto-approve")
    rendered = json.loads(run_terraform(work_dir, "output", "-json").stdout)["node_pools"]["value"]

    pools = rendered["pools"]
    assert sorted(pools) == ["client", "server", "system"]
    assert pools["system"]["taints"] == [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"}]
    assert pools["system"]["labels"] == {"role": "system"}
    assert {name: pool["zones"] for name, pool in pools.items()} == {
        "client": ["zone-b"],
        "server": ["zone-a"],
        "system": ["zone-a"],
    }
    assert pools["client"]["taints"] == [{"key": "k", "value": "", "effect": "NoExecute"}]
    assert (pools["server"]["os_disk_size_gb"], pools["server"]["os_disk_type"]) == (50, "ssd")
    assert rendered["taint_effects"]["NoExecute"] == "NO_EXECUTE"


@needs_terraform
@pytest.mark.parametrize("child_dir", CHILD_MODULE_DIRS, ids=module_name)
def test_child_module_is_valid(child_dir, tmp_path):
    work_dir = tmp_path / child_dir.name
    shutil.copytree(child_dir, work_dir)
    run_terraform(work_dir, "init", "-backend=false")
    validate = run_terraform(work_dir, "validate", "-json", check=False)
    report = json.loads(validate.stdout)
    diagnostics = [f"{item['severity']}: {item['summary']}: {item.get('detail', '')}" for item in report["diagnostics"]]
    assert report["valid"] and not diagnostics, f"terraform/{module_name(child_dir)}:\n" + "\n".join(diagnostics)


# --- terraform validate, where providers can be downloaded ----------------------------------

INIT_TIMEOUT = 300
NETWORK_FAILURE = re.compile(
    r"no such host|dial tcp|i/o timeout|connection refused|network is unreachable|name resolution|TLS handshake timeout",
    re.IGNORECASE,
)


@dataclass
class ProviderDownload:
    """Why ``terraform init`` could not get providers, once it failed (tried once per test module)."""

    unavailable: str | None = None


@pytest.fixture(scope="module")
def provider_download() -> ProviderDownload:
    return ProviderDownload()


@needs_terraform
@pytest.mark.parametrize("module", CLUSTER_MODULES)
def test_terraform_validate(module, tmp_path, provider_download):
    if provider_download.unavailable:
        pytest.skip(provider_download.unavailable)
    work_dir = tmp_path / module
    ignore = shutil.ignore_patterns(".terraform*", "*.tfstate*")
    shutil.copytree(TERRAFORM_DIR / module, work_dir, ignore=ignore)
    shutil.copytree(CHILD_MODULES_DIR, tmp_path / CHILD_MODULES_DIR.name, ignore=ignore)
    try:
        init = run_terraform(work_dir, "init", "-backend=false", timeout=INIT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        provider_download.unavailable = f"terraform init did not get the providers within {INIT_TIMEOUT}s"
        pytest.skip(provider_download.unavailable)
    if init.returncode != 0:
        output = init.stdout + init.stderr
        network_error = NETWORK_FAILURE.search(output)
        if network_error is None:
            pytest.fail(f"terraform init failed in {work_dir}:\n{output[-3000:]}")
        line = next(line for line in output.splitlines() if network_error.group(0) in line)
        provider_download.unavailable = (
            "providers cannot be downloaded here, and terraform validate needs them "
            f"(terraform init: {line.strip(' │')})"
        )
        pytest.skip(provider_download.unavailable)

    validate = run_terraform(work_dir, "validate", "-json", check=False)
    report = json.loads(validate.stdout)
    diagnostics = [f"{item['severity']}: {item['summary']}: {item.get('detail', '')}" for item in report["diagnostics"]]
    assert report["valid"], f"terraform/{module} is not valid:\n" + "\n".join(diagnostics)


def test_the_suites_cluster_inputs_are_the_modules_variables(cluster_blocks):
    """What a suite writes under target.<cloud>.cluster reaches the module as TF_VAR_<name>: a typo would
    only show after a cluster apply started, so it is caught here."""
    module, blocks = cluster_blocks
    cloud = {provider.MODULE: name for name, provider in PROVIDERS.items() if name != "local"}[module]
    variables = named(blocks, "variable")
    node_pool_type = variables["node_pools"]["type"]
    inputs = []
    for path in sorted((REPO / "benchmarks").glob("*/*.yaml")):  # the suites' scenarios
        inputs += [(path.name, scenario.load(path).target_settings(cloud).get("cluster", {}))]
    assert any(cluster for _, cluster in inputs), f"no suite declares a {cloud} cluster"
    for name, cluster in inputs:
        unknown = [key for key in cluster if key not in variables]
        assert not unknown, f"{name}: target.{cloud}.cluster: {unknown} are not variables of terraform/{module}"
        for pool in cluster.get("node_pools", []):
            fields = [field for field in pool if not re.search(rf"\b{field}\s*=", node_pool_type)]
            assert not fields, f"{name}: target.{cloud}.cluster.node_pools: {fields} are not node pool fields"
