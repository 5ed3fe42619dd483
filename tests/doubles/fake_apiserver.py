"""Test double of a Kubernetes API server, on 127.0.0.1.

No API server can run here, so ``FakeApiServerDouble`` plays one: it answers
the few REST calls the Kubernetes target makes with objects shaped as the
real server's (the client's models reject anything less), and its exec
subresource speaks the websocket channel protocol and runs the command on
this machine, so exec, exit statuses, timeouts and killing run for real.
Scheduling is barely simulated: a pod gets its ``nodeName``, else the first
node its ``nodeSelector`` picks (the first node if none does), and 127.0.0.1.
Pods' containers do not run unless the double is given a ``ContainersDouble``
(``containers``): then they do, and their logs are served (``.../log``).
Its portforward subresource speaks the kubelet's websocket protocol (each
channel opens with its port, little-endian) and connects to the pod's port
on 127.0.0.1, so a forward reaches a real server on this machine.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from kubernetes import client

TOKEN = "fake-bearer-token-4f1c9e2a"
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def node_json(name, *, ready=True, labels=None, taints=(), cordoned=False, reason="KubeletNotReady", message="PLEG is not healthy"):
    condition = {"type": "Ready", "status": "True" if ready else "False"}
    if not ready:
        condition.update(reason=reason, message=message)
    spec = {"taints": list(taints)} if taints else {}
    if cordoned:
        spec["unschedulable"] = True
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": {
            "conditions": [condition],
            "nodeInfo": {
                "kubeletVersion": "v1.30.4",
                "containerRuntimeVersion": "containerd://1.7.20",
                "osImage": "Ubuntu 22.04.4 LTS",
                "kernelVersion": "5.15.0-1068-azure",
                "kubeProxyVersion": "v1.30.4",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "machineID": "m",
                "systemUUID": "s",
                "bootID": "b",
            },
        },
    }


def pod_json(name, labels, *, ports=(), phase="Running", ready=True):
    """A pod as listed, with its status: ``ports`` are (name, containerPort) of its one container."""
    return {
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {"containers": [{"name": "main", "image": "main:1",
                                 "ports": [{"name": port_name, "containerPort": number} for port_name, number in ports]}]},
        "status": {"phase": phase, "podIP": "127.0.0.1",
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def service_json(name, selector, ports):
    """A service: ``ports`` are (port, targetPort), the target a number or a container port's name."""
    return {
        "metadata": {"name": name},
        "spec": {"selector": dict(selector), "ports": [{"port": port, "targetPort": target} for port, target in ports]},
    }


def namespaces_deleted(double: "FakeApiServerDouble") -> list[str]:
    return [path for path in double.paths("DELETE") if re.fullmatch(r"/api/v1/namespaces/[^/]+", path)]


def status_json(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}


def json_body(handler: BaseHTTPRequestHandler) -> dict | None:
    length = int(handler.headers.get("Content-Length") or 0)
    return json.loads(handler.rfile.read(length)) if length else None


def send_json(handler: BaseHTTPRequestHandler, code: int, answer: dict) -> None:
    data = json.dumps(answer).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def selects(selector: str, labels: dict) -> bool:
    """A label selector of ``key=value`` and ``key in (a,b)`` requirements, as the API server reads it."""
    for requirement in re.findall(r"[^,(]+(?:\([^)]*\))?", selector):
        key, _, values = requirement.partition(" in ")
        if values:
            if labels.get(key.strip()) not in [value.strip() for value in values.strip("() ").split(",")]:
                return False
        else:
            key, _, value = requirement.partition("=")
            if labels.get(key.strip()) != value.strip():
                return False
    return True


class FakeApiServerDouble:
    """Test double of a Kubernetes API server: nodes, namespaces, pods, PVCs, services; exec and portforward run locally."""

    def __init__(self):
        self.nodes: list[dict] = []
        self.node_lists: list[list[dict]] = []  # if set, each list_node answers the next one (the last repeats)
        self.nodes_from = None  # if set, a function each list_node asks for the nodes: the cluster changes meanwhile
        self.namespaces: set[str] = set()
        self.pods: dict[tuple[str, str], dict] = {}
        self.pvcs: dict[tuple[str, str], dict] = {}
        self.services: dict[tuple[str, str], dict] = {}
        self.deleted_node_selectors: list[dict] = []
        self.node_queries: list[dict] = []  # the query of each node list, one value per parameter
        self.pod_status = {"phase": "Running", "podIP": "127.0.0.1", "hostIP": "127.0.0.1",
                           "conditions": [{"type": "Ready", "status": "True"}]}
        self.exec_failure: str | None = None  # a failure the exec answers with instead of running
        self.pod_refusal: dict | None = None  # a Status the creation of a pod answers with (admission's refusal)
        self.containers = None  # a ContainersDouble: the pods' containers run here
        self.portforward_refusal: dict | None = None  # a Status the portforward answers with instead of upgrading
        self.requests: list[tuple[str, str, dict | None]] = []
        self.execs: list[dict] = []
        self.portforwards: list[dict] = []
        self.authorization: set[str] = set()
        self._processes: list[subprocess.Popen] = []
        self._connections: list[socket.socket] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.containers is not None:
            self.containers.close()
        self._server.shutdown()
        self._server.server_close()
        for process in self._processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):  # ended meanwhile
                    os.killpg(process.pid, signal.SIGKILL)  # the command and what it started, as a pod's deletion does
            process.wait()
        for connection in self._connections:
            connection.close()

    def api_client(self) -> client.ApiClient:
        configuration = client.Configuration()
        configuration.host = self.url
        return client.ApiClient(configuration)

    def kubeconfig(self) -> str:
        return json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "admin", "user": {"token": TOKEN}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "admin"}}],
        })

    def paths(self, method: str) -> list[str]:
        return [path for m, path, _ in self.requests if m == method]

    def body(self, method: str, path: str) -> dict:
        return next(b for m, p, b in self.requests if m == method and p == path)

    # --- the API ---

    def answer(self, method: str, path: str, body: dict | None, query: dict | None = None) -> tuple[int, dict]:
        parts = path.strip("/").split("/")
        if path.rstrip("/") == "/version":
            return 200, {"major": "1", "minor": "30", "gitVersion": "v1.30.4", "gitCommit": "c", "gitTreeState": "clean",
                         "buildDate": "2024-08-14T00:00:00Z", "goVersion": "go1.22.5", "compiler": "gc", "platform": "linux/amd64"}
        if path == "/api/v1/nodes" and method == "DELETE":
            wanted = dict(pair.split("=", 1) for pair in (query or {}).get("labelSelector", [""])[0].split(",") if pair)
            self.deleted_node_selectors.append(wanted)
            self.nodes = [n for n in self.nodes if not wanted.items() <= n["metadata"]["labels"].items()]
            return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
        if path == "/api/v1/nodes":
            self.node_queries.append({key: values[0] for key, values in (query or {}).items()})
            if self.nodes_from is not None:
                nodes = self.nodes_from()
            else:
                nodes = self.node_lists.pop(0) if len(self.node_lists) > 1 else (self.node_lists or [self.nodes])[0]
            selected = [n for n in nodes if selects(self.node_queries[-1].get("labelSelector", ""), n["metadata"]["labels"])]
            return 200, {"kind": "NodeList", "apiVersion": "v1", "metadata": {}, "items": selected}
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) == 3 and method == "POST":
            name = body["metadata"]["name"]
            if name in self.namespaces:
                return 409, status_json(409, "AlreadyExists", f'namespaces "{name}" already exists')
            self.namespaces.add(name)
            return 201, body
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) == 4 and method == "DELETE":
            if parts[3] not in self.namespaces:
                return 404, status_json(404, "NotFound", f'namespaces "{parts[3]}" not found')
            self.namespaces.discard(parts[3])
            self.pods = {key: pod for key, pod in self.pods.items() if key[0] != parts[3]}
            if self.containers is not None:
                self.containers.stop(parts[3])
            return 200, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": parts[3]}, "status": {"phase": "Terminating"}}
        if len(parts) == 6 and parts[4] == "services" and method == "GET":
            service = self.services.get((parts[3], parts[5]))
            if service is None:
                return 404, status_json(404, "NotFound", f'services "{parts[5]}" not found')
            return 200, service
        if len(parts) == 5 and parts[4] == "pods" and method == "GET":
            wanted = dict(pair.split("=", 1) for pair in (query or {}).get("labelSelector", [""])[0].split(",") if pair)
            items = [
                self._scheduled(namespace, pod) for (namespace, _), pod in self.pods.items()
                if namespace == parts[3] and wanted.items() <= pod["metadata"].get("labels", {}).items()
            ]
            return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
        if len(parts) >= 5 and parts[4] in ("pods", "persistentvolumeclaims"):
            store = self.pods if parts[4] == "pods" else self.pvcs
            namespace = parts[3]
            if method == "POST":
                key = (namespace, body["metadata"]["name"])
                if key in store:
                    return 409, status_json(409, "AlreadyExists", f'{parts[4]} "{key[1]}" already exists')
                if store is self.pods and self.pod_refusal is not None:
                    return self.pod_refusal["code"], self.pod_refusal
                store[key] = body
                if store is self.pods and self.containers is not None:
                    self.containers.start(namespace, body)
                return 201, body
            pod = store.get((namespace, parts[5]))
            if pod is None:
                return 404, status_json(404, "NotFound", f'pods "{parts[5]}" not found')
            if method == "DELETE":
                del store[(namespace, parts[5])]
                if self.containers is not None:
                    self.containers.stop(namespace, parts[5])
            return 200, self._scheduled(namespace, pod)
        return 404, status_json(404, "NotFound", f"the fake API server has no {method} {path}")

    def _scheduled(self, namespace: str, pod: dict) -> dict:
        """A pod on its node, with its own status if it was given one, else its containers', else ``pod_status``."""
        selector = pod["spec"].get("nodeSelector", {})
        chosen = [n["metadata"]["name"] for n in self.nodes if selector.items() <= n["metadata"]["labels"].items()]
        node = pod["spec"].get("nodeName") or next(iter(chosen), self.nodes[0]["metadata"]["name"] if self.nodes else "node-0")
        name = pod["metadata"]["name"]
        status = self.containers.status(namespace, name) if self.containers and self.containers.runs(namespace, name) else self.pod_status
        return {**pod, "spec": {**pod["spec"], "nodeName": node}, "status": pod.get("status", status)}

    def log(self, namespace: str, pod: str, query: dict):
        """(code, Status) of a log that cannot be read, or (200, its lines as they come)."""
        if (namespace, pod) not in self.pods:
            return 404, status_json(404, "NotFound", f'pods "{pod}" not found')
        spec = self.pods[(namespace, pod)]["spec"]
        container = query.get("container", [spec["containers"][0]["name"]])[0]
        lines = self.containers.log(namespace, pod, container, query) if self.containers is not None else None
        if lines is None:
            return 400, status_json(400, "BadRequest", f'container "{container}" in pod "{pod}" is not running: the double runs no containers')
        return 200, lines

    def run_exec(self, query: dict, send) -> None:
        argv = query["command"]
        record = {"container": query["container"][0], "command": argv}
        self.execs.append(record)
        if self.exec_failure:
            send(3, json.dumps({"metadata": {}, "status": "Failure", "message": self.exec_failure, "reason": "InternalError"}).encode())
            return
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True
        )
        self._processes.append(process)
        record["process"] = process
        pumps = [
            threading.Thread(target=lambda pipe=pipe, channel=channel: [send(channel, c) for c in iter(lambda: pipe.read1(65536), b"")])
            for pipe, channel in ((process.stdout, 1), (process.stderr, 2))
        ]
        for pump in pumps:
            pump.start()
        for pump in pumps:
            pump.join()
        code = process.wait()
        if code == 0:
            status = {"metadata": {}, "status": "Success"}
        else:
            status = {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                      "message": f"command terminated with non-zero exit code: exit code {code}",
                      "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
        send(3, json.dumps(status).encode())


    def run_portforward(self, namespace: str, pod: str, port: int, send, receive, end) -> None:
        """As the kubelet does: both channels open with the port, then bytes flow to and from 127.0.0.1:port.

        The stream ends (``end``) when the pod's side closes the connection. A
        port nothing listens on is an error on the error channel, in the kubelet's words.
        """
        self.portforwards.append({"namespace": namespace, "pod": pod, "port": port})
        prefix = port.to_bytes(2, "little")
        send(0, prefix)
        send(1, prefix)
        try:
            upstream = socket.create_connection(("127.0.0.1", port))
        except OSError as error:
            send(1, f"error forwarding port {port} to pod {pod}, uid : failed to connect to localhost:{port} inside "
                    f"the pod's network namespace: dial tcp4 127.0.0.1:{port}: connect: {error.strerror.lower()}".encode())
            return
        self._connections.append(upstream)

        def from_pod():
            for data in iter(lambda: upstream.recv(65536), b""):
                send(0, data)
            end()

        reader = threading.Thread(target=from_pod, daemon=True)
        reader.start()
        for channel, data in iter(receive, None):
            if channel == 0:
                upstream.sendall(data)
        upstream.shutdown(socket.SHUT_RDWR)  # the client closed the stream: so does the kubelet its connection
        reader.join()
        upstream.close()


def _handler(double: FakeApiServerDouble):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _serve(self):
            url = urlparse(self.path)
            if self.headers.get("Authorization"):
                double.authorization.add(self.headers["Authorization"])
            if url.path.endswith("/exec"):
                return self._exec(parse_qs(url.query))
            if url.path.endswith("/log"):
                return self._log(url.path, parse_qs(url.query))
            if url.path.endswith("/portforward"):
                return self._portforward(url.path, parse_qs(url.query))
            body = json_body(self)
            double.requests.append((self.command, url.path, body))
            send_json(self, *double.answer(self.command, url.path, body, parse_qs(url.query)))

        do_GET = do_POST = do_DELETE = _serve

        def _upgrade(self):
            """Switch to a websocket; returns the function that sends one frame."""
            accept = base64.b64encode(hashlib.sha1((self.headers["Sec-WebSocket-Key"] + WEBSOCKET_GUID).encode()).digest())
            self.send_response(101, "Switching Protocols")
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept.decode())
            self.send_header("Sec-WebSocket-Protocol", "v4.channel.k8s.io")
            self.end_headers()
            lock = threading.Lock()

            def frame(opcode: int, payload: bytes) -> None:
                size = len(payload)
                length = bytes([size]) if size < 126 else bytes([126]) + size.to_bytes(2, "big") if size < 65536 else bytes([127]) + size.to_bytes(8, "big")
                with lock:
                    try:
                        self.wfile.write(bytes([0x80 | opcode]) + length + payload)
                        self.wfile.flush()
                    except OSError:  # the client closed the stream: the command goes on, as in a pod
                        pass

            return frame

        def _receive(self):
            """The next (channel, data) the client sent; None once it closes the stream."""
            while True:
                head = self.rfile.read(2)
                if len(head) < 2:
                    return None
                opcode, size = head[0] & 0x0F, head[1] & 0x7F
                if size >= 126:
                    size = int.from_bytes(self.rfile.read(2 if size == 126 else 8), "big")
                mask = self.rfile.read(4) if head[1] & 0x80 else bytes(4)
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(size)))
                if opcode == 0x8:
                    return None
                if opcode == 0x2 and payload:
                    return payload[0], payload[1:]

        def _exec(self, query):
            frame = self._upgrade()
            double.run_exec(query, lambda channel, data: frame(0x2, bytes([channel]) + data))
            frame(0x8, (1000).to_bytes(2, "big"))
            self.close_connection = True

        def _log(self, path, query):
            """The log, chunk by chunk as it is written (chunked transfer, as the API server streams it)."""
            namespace, pod = path.strip("/").split("/")[3:6:2]
            double.requests.append(("GET", path, None))
            code, lines = double.log(namespace, pod, query)
            if code != 200:
                return send_json(self, code, lines)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for line in lines:
                    data = line.encode()
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            except OSError:  # the client closed the stream
                pass
            finally:
                lines.close()
            self.close_connection = True

        def _portforward(self, path, query):
            namespace, pod = path.strip("/").split("/")[3:6:2]
            if double.portforward_refusal is not None:
                return send_json(self, double.portforward_refusal["code"], double.portforward_refusal)
            frame = self._upgrade()
            ended = threading.Lock()

            def end():
                if ended.acquire(blocking=False):
                    frame(0x8, (1000).to_bytes(2, "big"))

            double.run_portforward(
                namespace, pod, int(query["ports"][0]), lambda channel, data: frame(0x2, bytes([channel]) + data), self._receive, end
            )
            end()
            self.close_connection = True

    return Handler
