"""A service of the cluster (its Prometheus) reached from 127.0.0.1, through the API server's portforward subresource."""

from __future__ import annotations

import contextlib
import http.client
import json
import selectors
import socket
import threading

from kubernetes import client
from kubernetes.stream import portforward

from pytest_telescope.errors import ProvisionError
from pytest_telescope.targets.kubernetes.api import call_api, first_line, pod_ready

FORWARD_CHECK_SECONDS = 30.0


class PortForward:
    """``http://127.0.0.1:<local_port>`` forwarded to a port of a Running, Ready pod behind a service.

    The pod is chosen once, from the service's selector; the service's
    ``targetPort`` (a number, or the name of a container port) is the pod's
    port. A thread accepts connections on 127.0.0.1, and each connection opens
    its own portforward stream: the API server carries one TCP connection per
    stream and ends the stream when that connection ends. ``error`` is the
    last failure a stream reported (the API server's refusal, or the pod's
    port refusing the connection). ``close`` stops accepting and ends every
    connection.
    """

    def __init__(self, api_client: client.ApiClient, namespace: str, service: str, port: int):
        # The client's portforward() swaps its ApiClient's call_api while a stream opens: on a client of
        # its own, the target's calls on other threads are never sent as websockets. Streams open one at
        # a time for the same reason.
        self._api_client = client.ApiClient(api_client.configuration)
        self.core = client.CoreV1Api(self._api_client)
        self.namespace, self.service, self.port = namespace, service, port
        self.error: str | None = None
        try:
            self.pod, self.target_port = self._resolve()
        except ProvisionError:
            self._api_client.close()
            raise
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.local_port = self._listener.getsockname()[1]
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._opening = threading.Lock()
        self._closed = False
        self._acceptor = threading.Thread(target=self._accept, name=self.what, daemon=True)
        self._acceptor.start()

    @property
    def what(self) -> str:
        return f"port-forward to service {self.namespace}/{self.service}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.local_port}"

    def _resolve(self) -> tuple[str, int]:
        """The pod to forward to and its port."""
        service = self._read(self.core.read_namespaced_service, self.service, self.namespace)
        ports = service.spec.ports or []
        service_port = next((p for p in ports if p.port == self.port), None)
        if service_port is None:
            known = ", ".join(str(p.port) for p in ports) or "none"
            raise ProvisionError(f"{self.what}: the service has no port {self.port} (its ports: {known})")
        if not service.spec.selector:
            raise ProvisionError(f"{self.what}: the service has no selector, so no pod to forward to")
        selector = ",".join(f"{key}={value}" for key, value in service.spec.selector.items())
        pods = self._read(self.core.list_namespaced_pod, self.namespace, label_selector=selector).items
        serving = [pod for pod in pods if pod_ready(pod) and pod.metadata.deletion_timestamp is None]
        if not serving:
            states = ", ".join(f"{pod.metadata.name} {_pod_state(pod)}" for pod in pods) or "none"
            raise ProvisionError(f"{self.what}: no Running, Ready pod with {selector} (pods: {states})")
        pod = min(serving, key=lambda pod: pod.metadata.name)
        return pod.metadata.name, self._pod_port(pod, service_port.target_port or self.port)

    def _read(self, call, *args, **kwargs):
        return call_api(self.what, call, *args, **kwargs)

    def _pod_port(self, pod, target_port: int | str) -> int:
        if isinstance(target_port, int):
            return target_port
        for container in pod.spec.containers:
            for container_port in container.ports or []:
                if container_port.name == target_port:
                    return container_port.container_port
        raise ProvisionError(f"{self.what}: pod {pod.metadata.name} has no container port named {target_port}")

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if self._closed:
                    connection.close()
                    return
                self._connections.add(connection)
            threading.Thread(target=self._serve, args=(connection,), name=self.what, daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            try:
                with self._opening:
                    forward = portforward(
                        self.core.connect_get_namespaced_pod_portforward, self.pod, self.namespace, ports=str(self.target_port)
                    )
            except client.ApiException as error:
                self.error = _handshake_error(error)
                return
            try:
                _pump(connection, forward.socket(self.target_port))
            finally:
                self.error = forward.error(self.target_port) or self.error
                forward.close()
        finally:
            # After the error is recorded: whoever sees this connection end may then read it.
            with self._lock:
                self._connections.discard(connection)
            connection.close()

    def check(self, path: str, timeout: float = FORWARD_CHECK_SECONDS) -> None:
        """An HTTP GET of ``path`` through the forward answers 2xx; else ``ProvisionError`` saying why."""
        where = f"{self.what} (pod {self.pod}, port {self.target_port})"
        request = http.client.HTTPConnection("127.0.0.1", self.local_port, timeout=timeout)
        try:
            request.request("GET", path)
            response = request.getresponse()
            body = response.read().decode(errors="replace")
        except (OSError, http.client.HTTPException) as error:
            raise ProvisionError(f"{where}: {self.error or first_line(error)}") from None
        finally:
            request.close()
        if not 200 <= response.status < 300:
            answer = f": {first_line(body)}" if body.strip() else ""
            raise ProvisionError(f"{where}: GET {path} answered {response.status} {response.reason}{answer}")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            connections = list(self._connections)
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept
        self._listener.close()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)  # its thread then closes its stream
        self._acceptor.join()
        self._api_client.close()


def _pod_state(pod) -> str:
    if pod.metadata.deletion_timestamp is not None:
        return "Terminating"
    phase = pod.status.phase if pod.status else None
    return f"{phase} (not Ready)" if phase == "Running" else phase or "Unknown"


def _handshake_error(error: client.ApiException) -> str:
    """The status and the API server's message of a refused websocket upgrade, without its headers."""
    # websocket-client joins the status line, the headers and the body with " -+-+- "
    status, *rest = (error.reason or "").split(" -+-+- ")
    try:
        message = json.loads(rest[-1]).get("message", "")
    except (IndexError, ValueError, AttributeError):
        message = ""
    return f"{status}: {message}" if message else first_line(status)


def _pump(local: socket.socket, forwarded) -> None:
    """Copy bytes both ways until either side ends or fails."""
    peers = {local: forwarded, forwarded: local}
    with selectors.DefaultSelector() as selector:
        for side in peers:
            selector.register(side, selectors.EVENT_READ)
        try:
            while True:
                for key, _ in selector.select():
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    peers[key.fileobj].sendall(data)
        except OSError:
            return
