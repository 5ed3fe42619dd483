"""The cluster target's manifests: valid for the Kubernetes API (offline schemas), and placed as asked."""

from __future__ import annotations

import itertools
import re

import kubernetes_validate
import pytest

from pytest_telescope.targets.kubernetes import manifests

# The oldest and the newest minor version whose schemas kubernetes-validate ships and that we claim.
KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.latest_version())
RUN_ID = "20261123T122302Z-dc5148"
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")


def pod_for(role="client", *, placement="different-node", storage="os-disk", host_network=False, tolerations=()):
    volume = manifests.scratch_volume(storage, claim_name=f"scratch-{role}", host_path="/mnt/telescope")
    return manifests.pod(
        role,
        RUN_ID,
        {tool: manifests.image(tool) for tool in manifests.DEFAULT_IMAGES},
        volume,
        node_selector={"kubernetes.azure.com/agentpool": "user"},
        tolerations=tolerations,
        affinity=manifests.affinity(placement, "server", RUN_ID) if role == "client" else None,
        host_network=host_network,
    )


def every_manifest():
    toleration = {"key": "dedicated", "operator": "Equal", "value": "bench", "effect": "NoSchedule"}
    for role, placement, storage, host_network in itertools.product(
        ("server", "client"), manifests.PLACEMENTS, manifests.STORAGE_KINDS, (False, True)
    ):
        yield pytest.param(
            pod_for(role, placement=placement, storage=storage, host_network=host_network, tolerations=[toleration]),
            id=f"pod-{role}-{placement}-{storage}-{'host' if host_network else 'pod'}net",
        )
    yield pytest.param(manifests.namespace("telescope-x", RUN_ID, "2026-11-23T14:23:02+00:00"), id="namespace")
    yield pytest.param(manifests.persistent_volume_claim("scratch-client", RUN_ID, "client", "premium", "10Gi"), id="pvc")
    yield pytest.param(manifests.persistent_volume_claim("scratch-client", RUN_ID, "client", None, "10Gi"), id="pvc-default-class")
    yield pytest.param(node_pod(), id="node-pod")


def node_pod():
    return manifests.node_pod(
        "bpftrace-1a2b3c-0", RUN_ID, "aks-bench-12345678-vmss000000", "quay.io/iovisor/bpftrace:v0.17.0",
        ["sh", "-c", "exec bpftrace -e \"$1\"", "sh", "BEGIN { exit(); }"], ["/sys/kernel/tracing"], "bpftrace",
    )


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("manifest", list(every_manifest()))
def test_every_manifest_is_valid_for_the_kubernetes_api(manifest, version):
    # strict: an unknown or misspelt field is an error too, as the API server's strict field validation makes it
    kubernetes_validate.validate(manifest, version, strict=True)


def test_the_validator_does_catch_a_bad_manifest():
    broken = pod_for()
    broken["spec"]["containers"][0]["volumeMount"] = broken["spec"]["containers"][0].pop("volumeMounts")
    with pytest.raises(kubernetes_validate.ValidationError, match="'volumeMount' was unexpected"):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


@pytest.mark.parametrize(
    "placement, kind, topology",
    [
        ("same-node", "podAffinity", "kubernetes.io/hostname"),
        ("different-node", "podAntiAffinity", "kubernetes.io/hostname"),
        ("different-zone", "podAntiAffinity", "topology.kubernetes.io/zone"),
    ],
)
def test_the_client_is_placed_relative_to_the_server_pod(placement, kind, topology):
    rules = pod_for("client", placement=placement)["spec"]["affinity"]
    assert list(rules) == [kind]
    (term,) = rules[kind]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == topology
    server_labels = pod_for("server")["metadata"]["labels"]
    assert term["labelSelector"]["matchLabels"].items() <= server_labels.items()
    assert term["labelSelector"]["matchLabels"][manifests.ROLE_LABEL] == "server"


def test_an_unknown_placement_or_storage_is_refused():
    with pytest.raises(ValueError, match="placement must be one of same-node, different-node, different-zone"):
        manifests.affinity("same-rack", "server", RUN_ID)
    with pytest.raises(ValueError, match="storage must be one of os-disk, host-path, pvc"):
        manifests.scratch_volume("nfs")


def test_one_container_per_tool_each_with_the_scratch_volume():
    spec = pod_for(storage="host-path")["spec"]
    assert [c["name"] for c in spec["containers"]] == ["iperf3", "fio"]
    assert all(c["volumeMounts"] == [{"name": "scratch", "mountPath": "/scratch"}] for c in spec["containers"])
    assert spec["volumes"] == [{"name": "scratch", "hostPath": {"path": "/mnt/telescope", "type": "DirectoryOrCreate"}}]
    assert manifests.container_for(["/usr/bin/fio", "--version"], ["iperf3", "fio"]) == "fio"
    assert manifests.container_for(["cat", "/proc/net/tcp"], ["iperf3", "fio"]) == "iperf3"


def test_host_network_resolves_cluster_names_still():
    spec = pod_for(host_network=True)["spec"]
    assert (spec["hostNetwork"], spec["dnsPolicy"]) == (True, "ClusterFirstWithHostNet")
    assert "hostNetwork" not in pod_for()["spec"]


def test_images_are_pinned_and_move_to_a_mirror_registry():
    for tool, reference in manifests.DEFAULT_IMAGES.items():
        tag = reference.rsplit("/", 1)[1].partition(":")[2]
        assert tag and tag != "latest", f"{tool}: {reference} is not pinned"
    assert manifests.image("iperf3", "mirror.example.com:5000/bench/") == "mirror.example.com:5000/bench/nicolaka/netshoot:v0.13"
    assert manifests.image("fio", "mirror.example.com") == "mirror.example.com/ljishen/fio:3.36"
    own = "registry.internal/fio@sha256:" + "0" * 64
    assert manifests.image("fio", "mirror.example.com", {"fio": own}) == own


def test_a_node_pod_is_privileged_on_its_node_in_the_host_pid_namespace_whatever_the_taints():
    pod = node_pod()
    spec = pod["spec"]
    (container,) = spec["containers"]
    assert (spec["nodeName"], spec["hostPID"], container["securityContext"]) == ("aks-bench-12345678-vmss000000", True, {"privileged": True})
    assert spec["tolerations"] == [{"operator": "Exists"}]
    # Requests make it Burstable: BestEffort pods are the first the kubelet evicts when memory runs short.
    assert container["resources"] == {"requests": {"cpu": "100m", "memory": "100Mi"}, "limits": {"cpu": "1", "memory": "1G"}}
    assert spec["volumes"] == [{"name": "sys-kernel-tracing", "hostPath": {"path": "/sys/kernel/tracing", "type": "Directory"}}]
    assert container["volumeMounts"] == [{"name": "sys-kernel-tracing", "mountPath": "/sys/kernel/tracing"}]
    # The run's labels, and no role: the benchmark pods' affinity rules never count it as a peer.
    assert pod["metadata"]["labels"] == {**manifests.labels(RUN_ID), manifests.COMPONENT_LABEL: "bpftrace"}
    assert manifests.mirrored("quay.io/iovisor/bpftrace:v0.17.0", "mirror.example.com/") == "mirror.example.com/iovisor/bpftrace:v0.17.0"
    assert manifests.mirrored("quay.io/iovisor/bpftrace:v0.17.0", None) == "quay.io/iovisor/bpftrace:v0.17.0"


@pytest.mark.parametrize("run_id", [RUN_ID, "My Run/#1 with spaces and a very long tail " * 3, "---", "x"])
def test_names_and_labels_are_valid_for_any_run_id(run_id):
    name = manifests.namespace_name(run_id, "aks-1a2b3c4d")
    assert DNS_LABEL.fullmatch(name) and len(name) <= 63
    assert LABEL_VALUE.fullmatch(manifests.label_value(run_id))
    assert manifests.namespace_name(run_id, "aks-1a2b3c4d") == name  # stable across processes
    assert manifests.namespace_name(run_id, "gke") != name  # one per target of the run
