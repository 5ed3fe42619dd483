"""``terraform plan`` of terraform/aws, offline, with the hashicorp/aws provider from a local plugin
directory and made-up credentials: what the module would create for an autoscaled shape and for a
fixed one. Skips, with the reason, where no such plugin directory exists (a user's machine)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import hcl2
import kubernetes_validate
import pytest
import yaml
from test_terraform_modules import CHILD_MODULES_DIR, PARSE_OPTIONS, TAG_INPUTS, TERRAFORM, TERRAFORM_DIR, run_terraform

# Where Terraform's documentation puts local provider mirrors, and any directory of /opt.
PLUGIN_DIR_CANDIDATES = [
    Path.home() / ".terraform.d/plugins",
    Path("/usr/local/share/terraform/plugins"),
    Path("/usr/share/terraform/plugins"),
    *sorted(Path("/opt").glob("*")),
]
# No call to AWS: the credentials are made up and nothing checks them.
PROVIDER_OVERRIDE = """\
provider "aws" {
  region                      = var.region
  access_key                  = "AKIAFAKEFAKEFAKEFAKE"
  secret_key                  = "fake-secret"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}
"""
ZONES = ["us-west-2a", "us-west-2b"]
AUTOSCALED = {
    **TAG_INPUTS,
    "region": "us-west-2",
    "zones": ZONES,
    "system_pool": {"critical_addons_only": True},
    "node_pools": [
        {"name": "scale", "count": 2, "min_count": 2, "max_count": 99, "machine_size": "m6i.large"},
        {"name": "idle", "count": 1, "machine_size": "m4.large", "zones": ["us-west-2b"]},
    ],
}


def aws_plugin_dir() -> Path | None:
    for directory in PLUGIN_DIR_CANDIDATES:
        if any((directory / "registry.terraform.io/hashicorp/aws").glob("*/*/terraform-provider-aws*")):
            return directory
    return None


@pytest.fixture(scope="module")
def planned(tmp_path_factory) -> dict:
    """The plan of AUTOSCALED, as ``terraform show -json`` writes it. One plan for all tests: each
    start of the provider takes seconds."""
    if TERRAFORM is None:
        pytest.skip("terraform (or tofu) is not on PATH")
    plugin_dir = aws_plugin_dir()
    if plugin_dir is None:
        pytest.skip("no local plugin directory holds hashicorp/aws (registry layout); terraform plan needs the provider")
    root = tmp_path_factory.mktemp("aws-plan")
    shutil.copytree(TERRAFORM_DIR / "aws", root / "aws")
    shutil.copytree(CHILD_MODULES_DIR, root / CHILD_MODULES_DIR.name)
    work_dir = root / "aws"
    (work_dir / "fake_credentials_override.tf").write_text(PROVIDER_OVERRIDE)
    (work_dir / "terraform.tfvars.json").write_text(json.dumps(AUTOSCALED))
    run_terraform(work_dir, "init", "-backend=false", f"-plugin-dir={plugin_dir}")
    run_terraform(work_dir, "plan", "-refresh=false", "-out=cluster.plan")
    return json.loads(run_terraform(work_dir, "show", "-json", "cluster.plan").stdout)


def created(planned: dict, resource_type: str) -> dict[str, dict]:
    return {
        change["address"]: change["change"]["after"]
        for change in planned["resource_changes"]
        if change["type"] == resource_type and change["change"]["actions"] == ["create"]
    }


def test_the_node_groups_addons_and_autoscaler_role_it_would_create(planned):
    groups = {after["node_group_name"]: after for after in created(planned, "aws_eks_node_group").values()}
    assert sorted(groups) == ["idle", "scale", "system"]
    # The groups of a fixed size, whose desired size a later apply changes, apart from the autoscaled one.
    assert sorted(created(planned, "aws_eks_node_group")) == [
        'aws_eks_node_group.autoscaled["scale"]', 'aws_eks_node_group.this["idle"]', 'aws_eks_node_group.this["system"]',
    ]
    assert groups["scale"]["scaling_config"] == [{"desired_size": 2, "min_size": 2, "max_size": 99}]
    assert groups["idle"]["scaling_config"] == [{"desired_size": 1, "min_size": 1, "max_size": 1}]
    assert groups["idle"]["instance_types"] == ["m4.large"]
    assert groups["system"]["taint"] == [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}]

    addons = {after["addon_name"]: after for after in created(planned, "aws_eks_addon").values()}
    assert sorted(addons) == ["aws-ebs-csi-driver", "eks-pod-identity-agent"]
    assert json.loads(addons["aws-ebs-csi-driver"]["configuration_values"]) == {"defaultStorageClass": {"enabled": True}}
    associations = {after["service_account"]: after for after in created(planned, "aws_eks_pod_identity_association").values()}
    assert sorted(associations) == ["cluster-autoscaler", "ebs-csi-controller-sa"]
    assert {after["namespace"] for after in associations.values()} == {"kube-system"}

    outputs = planned["planned_values"]["outputs"]
    # A pool that names no zone is in the first one; the subnets cover both.
    assert {name: pool["zones"] for name, pool in outputs["node_pools"]["value"].items()} == {
        "idle": ["us-west-2b"], "scale": ["us-west-2a"], "system": ["us-west-2a"],
    }
    assert sorted(after["availability_zone"] for after in created(planned, "aws_subnet").values()) == ZONES
    assert outputs["storage_classes"]["value"] == ["ebs-csi-default-sc"]
    # The autoscaler's manifests name the cluster and its version, known after apply ("" when no pool autoscales).
    assert planned["output_changes"]["manifests"]["after_unknown"] is True
    assert created(planned, "aws_iam_role_policy")  # the autoscaler's permissions


def test_every_planned_resource_that_takes_tags_gets_the_common_tags(planned):
    """The tags hold creation_time, known only after apply: the plan shows that each taggable
    resource's tags come from local.tags, the common-tags module's output."""
    taggable = [
        resource
        for resource in planned["configuration"]["root_module"]["resources"]
        if resource["mode"] == "managed" and "tags" in resource["expressions"]
    ]
    assert len(taggable) >= 10
    untagged = [r["address"] for r in taggable if "local.tags" not in r["expressions"]["tags"].get("references", [])]
    assert not untagged, f"tags not from local.tags: {untagged}"
    assert planned["planned_values"]["outputs"]["region"]["value"] == "us-west-2"


@pytest.mark.skipif(TERRAFORM is None, reason="terraform (or tofu) is not on PATH")
def test_the_cluster_autoscaler_manifests_are_valid_kubernetes_objects(tmp_path):
    """Rendered with built-in Terraform only, as the module's manifests output renders them."""
    shutil.copy(TERRAFORM_DIR / "aws/cluster-autoscaler.yaml.tftpl", tmp_path)
    (tmp_path / "render.tf").write_text(
        'output "manifests" {\n  value = templatefile("cluster-autoscaler.yaml.tftpl", '
        '{ cluster_name = "ts-test", region = "us-west-2", kubernetes_version = "1.31" })\n}\n'
    )
    run_terraform(tmp_path, "init", "-backend=false")
    run_terraform(tmp_path, "apply", "-auto-approve")
    documents = [d for d in yaml.safe_load_all(run_terraform(tmp_path, "output", "-raw", "manifests").stdout) if d]
    assert [d["kind"] for d in documents] == ["ServiceAccount", "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding", "Deployment"]
    for document in documents:
        kubernetes_validate.validate(document, "1.31", strict=True)
    (container,) = documents[-1]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.k8s.io/autoscaling/cluster-autoscaler:v1.31.0"
    assert "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/ts-test" in container["command"]


def test_zones_come_from_the_region_when_none_are_given():
    """Defect 9: zones was a required variable that no suite set. It defaults to none, and the module then
    reads the region's zones; the plan above gives zones, so that it needs no call to AWS."""
    variables = hcl2.loads((TERRAFORM_DIR / "aws/variables.tf").read_text(), serialization_options=PARSE_OPTIONS)
    (zones,) = [body["zones"] for body in variables["variable"] if "zones" in body]
    assert zones["default"] == []
    main = (TERRAFORM_DIR / "aws/main.tf").read_text()
    assert re.search(r'data "aws_availability_zones" "available" \{\s+count = length\(var\.zones\) == 0 \? 1 : 0', main)
    assert "default_zones = [local.zones[0]]" in main
