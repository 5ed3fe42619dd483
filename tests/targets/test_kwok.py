"""kwok virtual nodes: the node manifest (offline schemas), the release download, install and teardown.

No cluster and no GitHub are reachable here. ``FakeReleaseServerDouble``
serves release files on 127.0.0.1. ``FakeKwokApiDouble`` is a small
Kubernetes API server on 127.0.0.1 with what the dynamic client needs:
discovery, create, get and delete of any kind it serves, and the kinds that
a CustomResourceDefinition adds, served a few discovery rounds after it is
created, as a real server does. It also plays kwok's controller: a node
annotated ``kwok.x-k8s.io/node: fake`` reads Ready while the
kwok-controller Deployment exists.
"""

from __future__ import annotations

import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import kubernetes_validate
import pytest
import yaml
from doubles.fake_apiserver import json_body, send_json, status_json
from kubernetes import client

from pytest_telescope.errors import ProvisionError
from pytest_telescope.targets import Connection
from pytest_telescope.targets.kubernetes import PROVIDERS, kwok, kwok_release

KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.latest_version())
RUN_ID = "20261123T122302Z-dc5148"

# A release in miniature: the kinds of kwok.yaml, and a Stage as in stage-fast.yaml.
CONTROLLER_YAML = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: stages.kwok.x-k8s.io
spec:
  group: kwok.x-k8s.io
  names: {kind: Stage, listKind: StageList, plural: stages, singular: stage}
  scope: Cluster
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: kwok-controller, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: kwok-controller}
rules:
- {apiGroups: [""], resources: [nodes, pods], verbs: [get, list, watch, update, patch]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: kwok-controller, namespace: kube-system}
spec:
  replicas: 1
  selector: {matchLabels: {app: kwok-controller}}
  template:
    metadata: {labels: {app: kwok-controller}}
    spec:
      serviceAccountName: kwok-controller
      containers:
      - name: kwok-controller
        image: registry.k8s.io/kwok/kwok:v0.7.0
        args: [--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake]
"""
STAGES_YAML = """\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {name: node-initialize}
spec:
  resourceRef: {apiGroup: v1, kind: Node}
  next: {statusTemplate: "phase: Running"}
---
"""


def serve(handler_class) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server, thread


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the release download ------------------------------------------------------------------


class ServedOnLoopback:
    """A test double that answers HTTP on 127.0.0.1 from ``self._server``."""

    _server: ThreadingHTTPServer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def close(self):
        self._server.shutdown()
        self._server.server_close()


class FakeReleaseServerDouble(ServedOnLoopback):
    """Test double of GitHub's release downloads: serves ``files`` (path -> text), 404 for anything else."""

    def __init__(self, files: dict[str, str]):
        self.files = files
        self.paths: list[str] = []
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                double.paths.append(self.path)
                text = double.files.get(self.path)
                data = (text if text is not None else "Not Found").encode()
                self.send_response(200 if text is not None else 404)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server, self._thread = serve(Handler)


@pytest.fixture
def releases():
    double = FakeReleaseServerDouble({"/v0.7.0/kwok.yaml": CONTROLLER_YAML, "/v0.7.0/stage-fast.yaml": STAGES_YAML})
    yield double
    double.close()


def test_the_pinned_release_and_its_asset_urls():
    assert kwok_release.KWOK_VERSION.startswith("v") and kwok_release.KWOK_VERSION.count(".") == 2  # a release tag, never "latest"
    urls = kwok_release.release_urls()
    assert urls == [
        f"https://github.com/kubernetes-sigs/kwok/releases/download/{kwok_release.KWOK_VERSION}/kwok.yaml",
        f"https://github.com/kubernetes-sigs/kwok/releases/download/{kwok_release.KWOK_VERSION}/stage-fast.yaml",
    ]
    assert kwok_release.release_urls("v0.6.1")[0].endswith("/v0.6.1/kwok.yaml")


def test_fetch_reads_every_document_and_skips_empty_ones(releases):
    controller = kwok_release.fetch(f"{releases.url}/v0.7.0/kwok.yaml")
    assert [(d["kind"], d["metadata"]["name"]) for d in controller] == [
        ("CustomResourceDefinition", "stages.kwok.x-k8s.io"),
        ("ServiceAccount", "kwok-controller"),
        ("ClusterRole", "kwok-controller"),
        ("Deployment", "kwok-controller"),
    ]
    stages = kwok_release.fetch(f"{releases.url}/v0.7.0/stage-fast.yaml")  # ends with an empty document
    assert [d["kind"] for d in stages] == ["Stage"]
    assert releases.paths == ["/v0.7.0/kwok.yaml", "/v0.7.0/stage-fast.yaml"]


def test_a_failed_download_names_the_url_and_the_way_around_it(releases):
    missing = f"{releases.url}/v9.9.9/kwok.yaml"
    with pytest.raises(ProvisionError) as error:
        kwok_release.fetch(missing)
    assert str(error.value) == (
        f"kwok manifests {missing}: cannot download: HTTP 404 Not Found "
        "(for a cluster without access to GitHub, give a local copy with --telescope-kwok-manifests)"
    )
    unreachable = f"http://127.0.0.1:{closed_port()}/v0.7.0/kwok.yaml"
    with pytest.raises(ProvisionError, match=rf"^kwok manifests {unreachable}: cannot download: Connection refused \("):
        kwok_release.fetch(unreachable)


def test_a_manifest_that_is_not_yaml_or_not_objects_is_named(tmp_path):
    broken = tmp_path / "kwok.yaml"
    broken.write_text("kind: Deployment\nmetadata: {name: x\n")
    with pytest.raises(ProvisionError, match=rf"^kwok manifests {broken}: not valid YAML at line 3$"):
        kwok_release.read_local(broken)
    broken.write_text(CONTROLLER_YAML + "---\n- just\n- a list\n")
    with pytest.raises(ProvisionError, match=r"kwok\.yaml: document 5 is not a Kubernetes object \(apiVersion, kind, metadata\.name\)$"):
        kwok_release.read_local(broken)


def test_local_manifests_from_a_file_or_a_directory(tmp_path):
    directory = tmp_path / "kwok-v0.7.0"
    directory.mkdir()
    (directory / "stage-fast.yaml").write_text(STAGES_YAML)
    (directory / "kwok.yaml").write_text(CONTROLLER_YAML)
    (directory / "README.md").write_text("# not a manifest\n")
    from_directory = kwok_release.load_manifests(directory)
    assert [d["kind"] for d in from_directory] == ["CustomResourceDefinition", "ServiceAccount", "ClusterRole", "Deployment", "Stage"]
    assert [d["kind"] for d in kwok_release.load_manifests(directory / "stage-fast.yaml")] == ["Stage"]
    with pytest.raises(ProvisionError) as error:
        kwok_release.load_manifests(tmp_path / "absent.yaml")
    assert str(error.value) == f"kwok manifests {tmp_path / 'absent.yaml'}: no such file or directory (from --telescope-kwok-manifests)"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ProvisionError, match=r"empty: no \.yaml file in this directory$"):
        kwok_release.load_manifests(empty)


# --- the virtual node manifest -------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_virtual_node_is_valid_for_the_kubernetes_api(version):
    node = kwok.virtual_node("kwok-a1b2c3-0", cpu="500m", memory="256Gi", pods=110, labels={"pool": "virtual"})
    kubernetes_validate.validate(node, version, strict=True)


def test_the_virtual_node_carries_what_kwok_needs_and_its_capacity():
    node = kwok.virtual_node("kwok-a1b2c3-0", cpu=32, memory="256Gi", pods=110,
                             labels={"pool": "virtual", "type": "real", "kubernetes.io/hostname": "elsewhere"})
    metadata = node["metadata"]
    assert metadata["annotations"]["kwok.x-k8s.io/node"] == "fake"  # what the release's controller manages
    assert metadata["labels"]["type"] == "kwok" and metadata["labels"]["pool"] == "virtual"
    assert metadata["labels"]["kubernetes.io/hostname"] == "kwok-a1b2c3-0"
    assert node["spec"]["taints"] == [{"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}]
    assert node["spec"]["providerID"] == "kwok://kwok-a1b2c3-0"  # or a cloud's node controller may delete it
    assert node["status"]["capacity"] == node["status"]["allocatable"] == {"cpu": "32", "memory": "256Gi", "pods": "110"}
    toleration = kwok.NODE_TOLERATION
    assert (toleration["key"], toleration["effect"]) == (kwok.NODE_TAINT["key"], kwok.NODE_TAINT["effect"])


@pytest.mark.parametrize(
    "capacity, message",
    [
        ({"memory": "256GB"}, r"kwok node memory: '256GB' is not a positive Kubernetes quantity"),
        ({"cpu": 0}, r"kwok node cpu: 0 is not a positive Kubernetes quantity"),
        ({"cpu": "-2"}, r"kwok node cpu: '-2' is not a positive"),
        ({"pods": 1.5}, r"kwok node pods: 1.5 is not a whole number >= 1"),
        ({"pods": True}, r"kwok node pods: True is not a whole number >= 1"),
    ],
)
def test_a_capacity_that_is_not_a_quantity_is_refused_by_its_name(capacity, message):
    with pytest.raises(ValueError, match=message):
        kwok.virtual_node("n", **{"cpu": "4", "memory": "16Gi", "pods": 110, **capacity})


# --- a Kubernetes API server for kwok ----------------------------------------------------------


class FakeKwokApiDouble(ServedOnLoopback):
    """Test double of a Kubernetes API server: discovery, objects of any served kind, and kwok's node readiness."""

    BUILT_IN = {
        "v1": {"Namespace": ("namespaces", False), "Node": ("nodes", False), "ServiceAccount": ("serviceaccounts", True)},
        "apps/v1": {"Deployment": ("deployments", True)},
        "rbac.authorization.k8s.io/v1": {"ClusterRole": ("clusterroles", False)},
        "apiextensions.k8s.io/v1": {"CustomResourceDefinition": ("customresourcedefinitions", False)},
    }

    def __init__(self, *, crd_serving_delay: int = 0):
        self.served = {group_version: dict(kinds) for group_version, kinds in self.BUILT_IN.items()}
        self.crd_serving_delay = crd_serving_delay  # discovery rounds before a new CRD's kind is served
        self._pending: list[list] = []  # [rounds left, group version, kind, plural, namespaced]
        self.objects: dict[str, dict] = {
            "/api/v1/namespaces/kube-system": {"metadata": {"name": "kube-system"}},
            "/api/v1/namespaces/default": {"metadata": {"name": "default"}},
        }
        self.failures: dict[tuple[str, str], tuple[int, str]] = {}  # (method, path) -> (code, message)
        self.kwok_stalled = False
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server, self._thread = serve(_api_handler(self))

    def api_client(self) -> client.ApiClient:
        configuration = client.Configuration()
        configuration.host = self.url
        return client.ApiClient(configuration)

    def posted(self) -> list[str]:
        return [path for method, path in self.requests if method == "POST"]

    def deleted(self) -> list[str]:
        return [path for method, path in self.requests if method == "DELETE"]

    def names(self, plural: str) -> set[str]:
        return {obj["metadata"]["name"] for path, obj in self.objects.items() if path.rsplit("/", 2)[-2] == plural}

    # --- the API ---

    def answer(self, method: str, path: str, query: dict, body: dict | None) -> tuple[int, dict]:
        with self._lock:
            self.requests.append((method, path))
            if (method, path) in self.failures:
                code, message = self.failures[(method, path)]
                return code, status_json(code, "Failure", message)
            if path == "/version":
                return 200, {"major": "1", "minor": "30", "gitVersion": "v1.30.4", "platform": "linux/amd64"}
            if path == "/api":
                return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
            if path == "/apis":
                return 200, self._groups()
            group_version, namespace, plural, name = _split(path)
            if name is None and plural is None and group_version in self.served:
                return 200, self._resource_list(group_version)
            known = {kinds[0]: (kind, kinds[1]) for kind, kinds in self.served.get(group_version, {}).items()}
            if plural not in known:
                return 404, status_json(404, "NotFound", "the server could not find the requested resource")
            kind, namespaced = known[plural]
            if namespaced and f"/api/v1/namespaces/{namespace}" not in self.objects:
                return 404, status_json(404, "NotFound", f'namespaces "{namespace}" not found')
            collection = path if name is None else path.rsplit("/", 1)[0]
            if method == "POST":
                return self._create(collection, plural, kind, group_version, body)
            if method == "GET" and name is None:
                return 200, self._list(collection, kind, group_version, query)
            if path not in self.objects:
                return 404, status_json(404, "NotFound", f'{plural} "{name}" not found')
            if method == "DELETE":
                removed = self.objects.pop(path)
                if kind == "CustomResourceDefinition":
                    self._unserve(removed)
                return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
            return 200, self._shown(self.objects[path], kind)

    def _create(self, collection, plural, kind, group_version, body):
        path = f"{collection}/{body['metadata']['name']}"
        if path in self.objects:
            return 409, status_json(409, "AlreadyExists", f'{plural} "{body["metadata"]["name"]}" already exists')
        stored = {**body, "metadata": {**body["metadata"], "uid": f"uid-{len(self.objects)}", "creationTimestamp": "2026-11-23T12:23:02Z"}}
        self.objects[path] = stored
        if kind == "CustomResourceDefinition":
            spec = body["spec"]
            for version in spec["versions"]:
                self._pending.append([self.crd_serving_delay, f"{spec['group']}/{version['name']}", spec["names"]["kind"],
                                      spec["names"]["plural"], spec["scope"] == "Namespaced"])
            self._serve_pending()
        return 201, stored

    def _list(self, collection, kind, group_version, query):
        selector = dict(pair.split("=", 1) for pair in query.get("labelSelector", [""])[0].split(",") if pair)
        items = [
            self._shown(obj, kind) for path, obj in self.objects.items()
            if path.rsplit("/", 1)[0] == collection and selector.items() <= (obj["metadata"].get("labels") or {}).items()
        ]
        return {"kind": f"{kind}List", "apiVersion": group_version, "metadata": {"resourceVersion": "1"}, "items": items}

    def _shown(self, obj, kind):
        """As kwok would have it: its nodes Ready while its controller runs."""
        if kind != "Node" or not self._kwok_manages(obj):
            return obj
        conditions = [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kwok is posting ready status"}]
        return {**obj, "status": {**obj.get("status", {}), "conditions": conditions}}

    def _kwok_manages(self, node):
        running = "/apis/apps/v1/namespaces/kube-system/deployments/kwok-controller" in self.objects and not self.kwok_stalled
        return running and (node["metadata"].get("annotations") or {}).get("kwok.x-k8s.io/node") == "fake"

    def _groups(self):
        self._serve_pending(tick=True)
        groups = []
        for group_version in self.served:
            if "/" in group_version:
                group, version = group_version.split("/")
                entry = {"groupVersion": group_version, "version": version}
                groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _serve_pending(self, tick=False):
        for pending in list(self._pending):
            pending[0] -= 1 if tick else 0
            if pending[0] <= 0:
                _, group_version, kind, plural, namespaced = pending
                self.served.setdefault(group_version, {})[kind] = (plural, namespaced)
                self._pending.remove(pending)

    def _unserve(self, crd):
        spec = crd["spec"]
        for version in spec["versions"]:
            group_version = f"{spec['group']}/{version['name']}"
            self.served.pop(group_version, None)
            prefix = f"/apis/{group_version}/"
            for path in [p for p in self.objects if p.startswith(prefix)]:
                del self.objects[path]

    def _resource_list(self, group_version):
        resources = [
            {"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
             "verbs": ["create", "delete", "get", "list"]}
            for kind, (plural, namespaced) in self.served[group_version].items()
        ]
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


def _split(path: str) -> tuple[str, str | None, str | None, str | None]:
    """(group version, namespace, plural, name) of an API path; the last three may be None."""
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        group_version, rest = parts[1], parts[2:]
    else:
        group_version, rest = "/".join(parts[1:3]), parts[3:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    elif len(rest) == 2 and rest[0] == "namespaces":  # a namespace itself
        return group_version, None, "namespaces", rest[1]
    return group_version, namespace, rest[0] if rest else None, rest[1] if len(rest) > 1 else None


def _api_handler(double: FakeKwokApiDouble):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 1 << 16  # the answer in one write: a reply in pieces waits on delayed ACKs, 40 ms a request

        def log_message(self, *args):
            pass

        def _serve(self):
            url = urlparse(self.path)
            send_json(self, *double.answer(self.command, url.path, parse_qs(url.query), json_body(self)))

        do_GET = do_POST = do_DELETE = _serve

    return Handler


@pytest.fixture
def api():
    double = FakeKwokApiDouble()
    yield double
    double.close()


@pytest.fixture
def release_dir(tmp_path):
    directory = tmp_path / "kwok-v0.7.0"
    directory.mkdir()
    (directory / "kwok.yaml").write_text(CONTROLLER_YAML)
    (directory / "stage-fast.yaml").write_text(STAGES_YAML)
    return directory


def documents(release_dir):
    return kwok_release.load_manifests(release_dir)


CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
STAGE_PATH = "/apis/kwok.x-k8s.io/v1alpha1/stages"
DEPLOYMENT_PATH = "/apis/apps/v1/namespaces/kube-system/deployments"


# --- install and remove ------------------------------------------------------------------------


def test_install_creates_the_crds_first_and_waits_until_their_kind_is_served(release_dir):
    api = FakeKwokApiDouble(crd_serving_delay=3)
    try:
        stages_first = list(reversed(documents(release_dir)))  # the Stage before its CRD
        created = kwok_release.install(api.api_client(), stages_first, timeout=10, poll_interval=0)
        assert api.posted()[:2] == [CRD_PATH, STAGE_PATH]
        assert api.requests.count(("GET", "/apis")) > 3  # discovered again until the kind was served
        assert [str(ref) for ref in created] == [
            "CustomResourceDefinition stages.kwok.x-k8s.io (apiextensions.k8s.io/v1)",
            "Stage node-initialize (kwok.x-k8s.io/v1alpha1)",
            "Deployment kube-system/kwok-controller (apps/v1)",
            "ClusterRole kwok-controller (rbac.authorization.k8s.io/v1)",
            "ServiceAccount kube-system/kwok-controller (v1)",
        ]
        assert api.names("stages") == {"node-initialize"}
    finally:
        api.close()


def test_objects_that_exist_are_taken_as_they_are_and_left_in_place(api, release_dir):
    first = kwok_release.install(api.api_client(), documents(release_dir), poll_interval=0)
    again = kwok_release.install(api.api_client(), documents(release_dir), poll_interval=0)
    assert again == []  # every object answered 409 AlreadyExists
    kwok_release.uninstall(api.api_client(), again)
    assert api.deleted() == []
    kwok_release.uninstall(api.api_client(), first)
    assert api.deleted() == [
        f"{STAGE_PATH}/node-initialize",
        "/apis/apps/v1/namespaces/kube-system/deployments/kwok-controller",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/kwok-controller",
        "/api/v1/namespaces/kube-system/serviceaccounts/kwok-controller",
        f"{CRD_PATH}/stages.kwok.x-k8s.io",
    ]
    assert api.names("deployments") == set() and api.names("customresourcedefinitions") == set()


def test_an_api_error_names_the_object_and_undoes_the_partial_install(api, release_dir):
    api.failures[("POST", DEPLOYMENT_PATH)] = (403, 'deployments.apps is forbidden: User "bench" cannot create resource "deployments"')
    with pytest.raises(ProvisionError) as error:
        kwok_release.install(api.api_client(), documents(release_dir), poll_interval=0)
    assert str(error.value) == (
        "kwok install: create Deployment kube-system/kwok-controller (apps/v1): "
        '403 Forbidden: deployments.apps is forbidden: User "bench" cannot create resource "deployments"'
    )
    assert api.deleted() == [
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/kwok-controller",
        "/api/v1/namespaces/kube-system/serviceaccounts/kwok-controller",
        f"{CRD_PATH}/stages.kwok.x-k8s.io",
    ]
    assert api.names("serviceaccounts") == set() and api.names("customresourcedefinitions") == set()


def test_a_missing_namespace_is_the_servers_word_after_the_wait(api):
    service_account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "kwok", "namespace": "kwok-system"}}
    with pytest.raises(ProvisionError) as error:
        kwok_release.install(api.api_client(), [service_account], timeout=0, poll_interval=0)
    assert str(error.value) == (
        'kwok install: create ServiceAccount kwok-system/kwok (v1): 404 Not Found: namespaces "kwok-system" not found (after 0 s)'
    )


def test_a_kind_nobody_serves_is_named(api):
    unknown = {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterExec", "metadata": {"name": "exec"}}
    with pytest.raises(ProvisionError) as error:
        kwok_release.install(api.api_client(), [unknown], timeout=0, poll_interval=0)
    assert str(error.value) == (
        "kwok install: create ClusterExec exec (kwok.x-k8s.io/v1alpha1): the API server does not serve this kind (after 0 s)"
    )


def test_an_unreachable_api_server_is_named(api, release_dir):
    api_client = api.api_client()
    api.close()
    with pytest.raises(ProvisionError) as error:
        kwok_release.install(api_client, documents(release_dir))
    assert str(error.value) == f"kwok: discover the API of {api.url}: Connection refused"


# --- virtual nodes -----------------------------------------------------------------------------


def make_nodes(api, release_dir, **kwargs):
    controller = kwok.Controller(api.api_client(), release_dir, poll_interval=0)
    return controller, kwok.VirtualNodes(api.api_client(), controller, run_id=RUN_ID, poll_interval=0, **kwargs)


def test_virtual_nodes_are_created_ready_with_their_capacity_then_removed(api, release_dir):
    controller, nodes = make_nodes(api, release_dir)
    small = nodes.add(2, cpu="4", memory="16Gi", pods=110)
    large = nodes.add(1, cpu=64, memory="512Gi", pods=250, labels={"pool": "large"})
    assert len(set(small + large)) == 3 and api.names("nodes") == set(small + large)
    assert api.posted().count(CRD_PATH) == 1  # installed once, at the first add
    stored = api.objects[f"/api/v1/nodes/{large[0]}"]
    assert stored["status"]["capacity"] == {"cpu": "64", "memory": "512Gi", "pods": "250"}
    assert stored["metadata"]["labels"]["pool"] == "large"
    assert stored["metadata"]["labels"]["telescope/run-id"] == RUN_ID
    nodes.remove()
    assert api.names("nodes") == set()
    controller.remove()
    assert api.names("deployments") == set() and api.names("customresourcedefinitions") == set()


def test_nodes_that_never_turn_ready_fail_the_add_and_are_removed_all_the_same(api, release_dir):
    api.kwok_stalled = True
    _, nodes = make_nodes(api, release_dir, ready_timeout=0)
    with pytest.raises(ProvisionError) as error:
        nodes.add(2, cpu="4", memory="16Gi", pods=110)
    created = sorted(api.names("nodes"))
    assert len(created) == 2
    assert str(error.value) == (
        f"kwok: 2 of 2 virtual nodes not Ready after 0 s ({', '.join(created)}): "
        "is the kwok controller running? (Deployment kube-system/kwok-controller)"
    )
    nodes.remove()  # as the fixture's teardown does after the failed test
    assert api.names("nodes") == set()


def test_a_failed_install_creates_no_node(api, release_dir):
    api.failures[("POST", DEPLOYMENT_PATH)] = (403, "forbidden")
    _, nodes = make_nodes(api, release_dir)
    with pytest.raises(ProvisionError, match=r"^kwok install: create Deployment kube-system/kwok-controller"):
        nodes.add(1, cpu="4", memory="16Gi", pods=110)
    assert "/api/v1/nodes" not in api.posted()
    nodes.remove()
    assert api.deleted()[-1] == f"{CRD_PATH}/stages.kwok.x-k8s.io"  # only the install's own undo


def test_teardown_tries_everything_and_names_what_it_could_not_delete(api, release_dir):
    _, nodes = make_nodes(api, release_dir)
    first, _ = nodes.add(2, cpu="4", memory="16Gi", pods=110)
    api.failures[("DELETE", f"/api/v1/nodes/{first}")] = (500, "etcdserver: request timed out")
    with pytest.raises(ProvisionError) as error:
        nodes.remove()
    assert str(error.value) == f"kwok teardown: could not delete Node {first}: 500 Internal Server Error: etcdserver: request timed out"
    assert api.names("nodes") == {first}  # the other one is gone


def test_a_count_that_is_not_a_whole_number_is_refused_before_anything_is_made(api, release_dir):
    _, nodes = make_nodes(api, release_dir)
    with pytest.raises(ValueError, match=r"kwok nodes: count 0 is not a whole number >= 1"):
        nodes.add(0, cpu="4", memory="16Gi", pods=110)
    with pytest.raises(ValueError, match=r"kwok node memory: '16G!' is not a positive Kubernetes quantity"):
        nodes.add(1, cpu="4", memory="16G!", pods=110)
    assert api.requests == []


def test_a_cluster_modules_manifests_are_created_when_the_target_connects(api, tmp_path):
    """terraform/aws outputs the cluster autoscaler's objects as manifests; the provider creates them,
    with kwok's installer, once the cluster is up, and takes those already there as they are."""
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": api.url}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        "users": [{"name": "fake", "user": {"token": "fake-token"}}],
    }
    manifests = (
        "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: cluster-autoscaler, namespace: kube-system}\n"
        "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: cluster-autoscaler}\nrules: []\n"
    )
    outputs = {"kubeconfig": yaml.safe_dump(kubeconfig), "node_pools": {}, "manifests": manifests}
    connection = Connection("run-1", tmp_path, timedelta(hours=2), "2026-11-27T13:00:00Z")
    for _ in range(2):
        PROVIDERS["eks"].connect(outputs, {}, connection)
    assert "cluster-autoscaler" in api.names("serviceaccounts") and "cluster-autoscaler" in api.names("clusterroles")
    assert api.posted().count("/api/v1/namespaces/kube-system/serviceaccounts") == 2  # the second found it there
