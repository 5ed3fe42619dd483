"""A cluster's Prometheus through a port-forward, with the real kubernetes client, against ``FakeApiServerDouble``.

The double's portforward subresource speaks the kubelet's websocket protocol
and connects to the pod's port on 127.0.0.1, where a real Prometheus runs
(``LocalPrometheus``): queries go all the way through the forward.
"""

from __future__ import annotations

import http.client
import shutil
import socket
import time
from urllib.parse import urlparse

import pytest
from doubles.fake_apiserver import FakeApiServerDouble, pod_json, service_json, status_json
from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

from pytest_telescope.errors import ProvisionError, TelescopeError
from pytest_telescope.measure import Measurements
from pytest_telescope.measure.golden import GOLDEN_SIGNALS
from pytest_telescope.measure.server import LocalPrometheus
from pytest_telescope.targets.kubernetes.target import KubernetesTarget

needs_prometheus = pytest.mark.skipif(
    not all(shutil.which(binary) for binary in ("prometheus", "prometheus-node-exporter")),
    reason="needs prometheus and prometheus-node-exporter on PATH",
)
SELECTOR = {"app.kubernetes.io/name": "prometheus"}
FORWARD = "port-forward to service monitoring/prometheus-operated:9090"


@pytest.fixture(scope="module")
def prometheus():
    with LocalPrometheus() as running:
        yield running


@pytest.fixture
def api():
    with FakeApiServerDouble() as double:
        yield double


def port_of(url: str) -> int:
    return urlparse(url).port


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_target(api) -> KubernetesTarget:
    return KubernetesTarget(
        api.api_client(), "existing", {}, "20261123T122302Z-dc5148", kubeconfig="/nonexistent/kubeconfig", poll_interval=0
    )


def serve_prometheus(api, pod_port: int, *, service="prometheus-operated", target_port="web", pods=None) -> None:
    """kube-prometheus-stack's shape: the service's port 9090 targets the container port named ``web``."""
    api.services[("monitoring", service)] = service_json(service, SELECTOR, [(9090, target_port)])
    for pod in pods if pods is not None else [pod_json("prometheus-0", SELECTOR, ports=[("web", pod_port)])]:
        api.pods[("monitoring", pod["metadata"]["name"])] = pod


def forwarded(api, prometheus) -> tuple[KubernetesTarget, str]:
    """A target, and the URL of its forward to ``prometheus`` served as monitoring/prometheus-operated:9090."""
    serve_prometheus(api, port_of(prometheus.url))
    target = make_target(api)
    return target, target.prometheus_url("monitoring", "prometheus-operated", 9090)


def forward_error(api, port: int = 9090) -> str:
    """The one line a forward to monitoring/prometheus-operated fails with."""
    with pytest.raises(ProvisionError) as error:
        make_target(api).prometheus_url("monitoring", "prometheus-operated", port)
    return str(error.value)


# --- through the forward ---------------------------------------------------------------------


@needs_prometheus
def test_prometheus_answers_a_query_through_the_forward_of_its_service(api, prometheus):
    target, url = forwarded(api, prometheus)
    result = PrometheusConnect(url, retry=Retry(total=0)).custom_query('up{role="host"}')

    assert urlparse(url).hostname == "127.0.0.1" and port_of(url) != port_of(prometheus.url)
    assert [(series["metric"]["job"], series["value"][1]) for series in result] == [("node", "1")]
    assert {(f["namespace"], f["pod"], f["port"]) for f in api.portforwards} == {
        ("monitoring", "prometheus-0", port_of(prometheus.url))
    }
    target.teardown()


@needs_prometheus
def test_each_connection_has_its_own_stream_and_the_forward_is_opened_once(api, prometheus):
    target, url = forwarded(api, prometheus)
    streams_before = len(api.portforwards)

    first, second = (http.client.HTTPConnection("127.0.0.1", port_of(url), timeout=10) for _ in range(2))
    for connection in (first, second):
        connection.request("GET", "/api/v1/query?query=up")
    answers = [connection.getresponse() for connection in (first, second)]

    assert [answer.status for answer in answers] == [200, 200]
    assert all(b'"status":"success"' in answer.read() for answer in answers)
    assert len(api.portforwards) == streams_before + 2
    assert target.prometheus_url("monitoring", "prometheus-operated", 9090) == url
    assert api.paths("GET").count("/api/v1/namespaces/monitoring/services/prometheus-operated") == 1
    first.close()
    second.close()
    target.teardown()


@needs_prometheus
def test_the_targets_own_calls_are_never_sent_as_streams_while_connections_open(api, prometheus):
    target, url = forwarded(api, prometheus)
    connections = [http.client.HTTPConnection("127.0.0.1", port_of(url), timeout=10) for _ in range(20)]

    for connection in connections:
        connection.request("GET", "/-/healthy")  # each opens a stream on the forward's thread
    listed = [len(target.nodes()) for _ in range(20)]  # meanwhile, REST calls on this one

    assert listed == [0] * 20
    assert [connection.getresponse().status for connection in connections] == [200] * 20
    for connection in connections:
        connection.close()
    target.teardown()


@needs_prometheus
def test_a_numeric_target_port_and_only_a_ready_pod_are_used(api, prometheus):
    pods = [
        pod_json("prometheus-0", SELECTOR, ports=[("web", unused_port())], ready=False),
        pod_json("prometheus-1", SELECTOR, ports=[("web", port_of(prometheus.url))]),
        pod_json("grafana-0", {"app.kubernetes.io/name": "grafana"}),
    ]
    serve_prometheus(api, 0, service="prometheus-k8s", target_port=port_of(prometheus.url), pods=pods)
    target = make_target(api)

    target.prometheus_url("monitoring", "prometheus-k8s", 9090)

    assert {(f["pod"], f["port"]) for f in api.portforwards} == {("prometheus-1", port_of(prometheus.url))}
    target.teardown()


@needs_prometheus
def test_teardown_closes_the_forward(api, prometheus):
    target, url = forwarded(api, prometheus)

    target.teardown()

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port_of(url)), timeout=5).close()


@needs_prometheus
def test_measurements_read_a_window_from_the_clusters_prometheus(api, prometheus):
    serve_prometheus(api, port_of(prometheus.url), service="prometheus-k8s")
    said = []
    measurements = Measurements("cluster:monitoring/prometheus-k8s:9090", said.append)
    target = make_target(api)
    start = time.time()
    time.sleep(2 * prometheus.rate_interval)

    assert measurements.available(target)
    cpu = [signal for signal in GOLDEN_SIGNALS if signal.name == "cpu_utilization"]
    samples, problems = measurements.window(cpu, start, time.time())

    assert problems == []
    assert [(sample.metric, sample.labels["role"]) for sample in samples] == [("cpu_utilization", "host")]
    assert 0 <= samples[0].value <= 100
    assert len(said) == 1 and said[0].startswith("prometheus monitoring/prometheus-k8s:9090 of existing: forwarded to http://127.0.0.1:")
    target.teardown()


# --- what stops it, in one line --------------------------------------------------------------


def test_an_unknown_service_is_named(api):
    assert forward_error(api) == f'{FORWARD}: 404 Not Found: services "prometheus-operated" not found'


def test_no_ready_pod_lists_the_pods_and_their_states(api):
    pods = [
        pod_json("prometheus-0", SELECTOR, ports=[("web", 9090)], ready=False),
        pod_json("prometheus-1", SELECTOR, ports=[("web", 9090)], phase="Pending", ready=False),
    ]
    serve_prometheus(api, 9090, pods=pods)

    assert forward_error(api) == (
        f"{FORWARD}: no Running, Ready pod with app.kubernetes.io/name=prometheus"
        " (pods: prometheus-0 Running (not Ready), prometheus-1 Pending)"
    )
    assert api.portforwards == []


def test_a_port_the_service_does_not_have_and_a_named_port_the_pod_does_not_have(api):
    serve_prometheus(api, 9090, pods=[pod_json("prometheus-0", SELECTOR, ports=[("http", 9090)])])

    assert forward_error(api, 80) == "port-forward to service monitoring/prometheus-operated:80: the service has no port 80 (its ports: 9090)"
    assert forward_error(api) == f"{FORWARD}: pod prometheus-0 has no container port named web"


def test_a_port_nothing_listens_on_is_the_kubelets_error(api):
    closed = unused_port()
    serve_prometheus(api, closed)

    assert forward_error(api) == (
        f"{FORWARD} (pod prometheus-0, port {closed}): error forwarding port {closed} to pod prometheus-0, uid : "
        f"failed to connect to localhost:{closed} inside the pod's network namespace: "
        f"dial tcp4 127.0.0.1:{closed}: connect: connection refused"
    )


def test_a_refused_portforward_gives_the_api_servers_message(api):
    serve_prometheus(api, 9090)
    message = (
        'pods "prometheus-0" is forbidden: User "bench" cannot create resource "pods/portforward"'
        ' in API group "" in the namespace "monitoring"'
    )
    api.portforward_refusal = status_json(403, "Forbidden", message)

    assert forward_error(api) == f"{FORWARD} (pod prometheus-0, port 9090): Handshake status 403 Forbidden: {message}"


def test_a_failing_forward_is_said_once_and_nothing_is_measured(api):
    said = []
    measurements = Measurements("cluster", said.append)
    target = make_target(api)

    assert not measurements.available(target)
    assert not measurements.available(target)
    assert said == [f'measurements off for existing: {FORWARD}: 404 Not Found: services "prometheus-operated" not found']
    assert api.paths("GET").count("/api/v1/namespaces/monitoring/services/prometheus-operated") == 1


def test_a_target_without_a_cluster_is_said_once_and_not_measured():
    class LocalTargetDouble:
        cloud = "local"

        def metrics_sources(self):
            return ["host"]

    said = []
    measurements = Measurements("cluster", said.append)

    assert not measurements.available(LocalTargetDouble())
    assert not measurements.available(LocalTargetDouble())
    assert said == [
        "measurements off for local: --telescope-prometheus cluster reads a cluster's Prometheus, and a local target has none"
    ]
    assert measurements._local is None  # no Prometheus was started here for it


@pytest.mark.parametrize("source", ["cluster:monitoring/prometheus-k8s", "cluster:monitoring:9090", "cluster:Mon/p:9090", "cluster:m/p:70000"])
def test_a_malformed_cluster_source_is_a_usage_error(source):
    with pytest.raises(TelescopeError) as error:
        Measurements(source, say=print)

    assert str(error.value) == (
        f"--telescope-prometheus {source}: expected cluster:<namespace>/<service>:<port>, e.g. cluster:monitoring/prometheus-k8s:9090"
    )
