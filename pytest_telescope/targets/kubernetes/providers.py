"""Where a cluster comes from, and how the pool of a run reaches it and cleans up after it.

A cluster comes from a Terraform module (``connect``: its outputs hold the
kubeconfig and the node pools) or already exists (``connect_existing``: a
kubeconfig path). Either way a record of the namespaces lets ``teardown``
delete them from another process (the xdist controller).
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Mapping

import yaml
from kubernetes import client

from pytest_telescope.errors import ProvisionError
from pytest_telescope.targets import Connection
from pytest_telescope.targets.kubernetes import kwok_release
from pytest_telescope.targets.kubernetes.api import delete_namespace, delete_virtual_nodes, load_client
from pytest_telescope.targets.kubernetes.pod_exec import Echo
from pytest_telescope.targets.kubernetes.target import KubernetesTarget

RECORD_FILE = "kubernetes.json"
KUBECONFIG_FILE = "kubeconfig"


def write_private(path: Path, content: str) -> None:
    """Write ``content`` readable by us only: the file 0600 in a 0700 directory."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    # Through a new file renamed over the old: another process may be reading it (a tool of another worker).
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)
    os.replace(partial, path)


def resolve_kubeconfig(given: str | None, environ: Mapping[str, str] = os.environ) -> Path:
    """The kubeconfig file to use: ``given``, else $KUBECONFIG, else ~/.kube/config."""
    if given:
        path, source = Path(given).expanduser(), "--telescope-kubeconfig"
    elif environ.get("KUBECONFIG"):
        paths = [p for p in environ["KUBECONFIG"].split(os.pathsep) if p]
        if len(paths) > 1:
            raise ProvisionError("KUBECONFIG lists several files: pass the one to use with --telescope-kubeconfig PATH")
        path, source = Path(paths[0]).expanduser(), "KUBECONFIG"
    else:
        path, source = Path("~/.kube/config").expanduser(), "the default location"
    if not path.is_file():
        raise ProvisionError(f"kubeconfig {path} (from {source}): no such file")
    return path.resolve()


def _record(directory: Path, kubeconfig: Path, run_id: str, namespace: str, context: str | None) -> None:
    """What teardown needs in another process (the xdist controller): no secret, only the path.

    Scenarios that share a cluster each have their namespace: the record lists them all.
    """
    record_file = directory / RECORD_FILE
    namespaces = json.loads(record_file.read_text())["namespaces"] if record_file.exists() else []
    record = {
        "kubeconfig": str(kubeconfig), "context": context, "run_id": run_id, "namespaces": sorted({*namespaces, namespace})
    }
    write_private(record_file, json.dumps(record))


def connect(
    outputs: dict,
    echo: Echo | None = None,
    say: Echo | None = None,
    *,
    cloud: str,
    settings: Mapping,
    run_id: str,
    directory: Path,
    deletion_due_time: str | None = None,
) -> KubernetesTarget:
    """A cluster a Terraform module made: ``outputs`` holds ``kubeconfig`` (its content) and ``node_pools``.

    The kubeconfig is written to ``directory/kubeconfig`` (0600; the
    directory 0700), whose path tools such as clusterloader2 take.
    """
    if not isinstance(outputs.get("kubeconfig"), str):
        raise ProvisionError(f"the {cloud} module has no kubeconfig output (a string): the Kubernetes target needs one")
    kubeconfig = directory / KUBECONFIG_FILE
    write_private(kubeconfig, outputs["kubeconfig"])
    target = KubernetesTarget(
        load_client(kubeconfig),
        cloud,
        settings,
        run_id,
        kubeconfig=str(kubeconfig),
        node_pools=outputs.get("node_pools") or {},
        deletion_due_time=deletion_due_time,
        echo=echo,
        say=say,
    )
    _record(directory, kubeconfig, run_id, target.namespace, None)
    return target


def connect_existing(
    kubeconfig: str | None,
    echo: Echo | None = None,
    say: Echo | None = None,
    *,
    settings: Mapping,
    run_id: str,
    directory: Path,
    context: str | None = None,
    deletion_due_time: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> KubernetesTarget:
    """An existing cluster (bring your own): ``kubeconfig`` is a path, or None for $KUBECONFIG."""
    path = resolve_kubeconfig(kubeconfig, environ)
    target = KubernetesTarget(
        load_client(path, context),
        "existing",
        settings,
        run_id,
        kubeconfig=str(path),
        deletion_due_time=deletion_due_time,
        echo=echo,
        say=say,
    )
    _record(directory, path, run_id, target.namespace, context)
    return target


def teardown(directory: Path) -> None:
    """Delete the namespaces recorded in ``directory`` by ``connect`` or ``connect_existing``, if any,
    and the run's kwok nodes."""
    record_file = directory / RECORD_FILE
    if not record_file.exists():
        return
    record = json.loads(record_file.read_text())
    api_client = load_client(Path(record["kubeconfig"]), record["context"])
    with api_client:
        core = client.CoreV1Api(api_client)
        for namespace in record["namespaces"]:
            delete_namespace(core, namespace)
        delete_virtual_nodes(core, record["run_id"])


# --- providers: how the pool of a run provisions and reaches each kind of cluster ------------


class ClusterProvider:
    """A cloud's managed Kubernetes, made by the Terraform module ``terraform/<MODULE>``.

    A scenario's ``target.<cloud>.cluster`` holds the module's inputs: the
    cluster's shape (node pools, version, network). Scenarios with the same
    shape share one cluster in a run, each in its own namespace; the other
    keys of ``target.<cloud>`` are the pods' settings (``ClusterSettings``).
    """

    def __init__(self, cloud: str, module: str):
        self.cloud = cloud
        self.MODULE = module

    def provisioned(self, settings: Mapping) -> dict:
        return dict(settings.get("cluster", {}))

    def variables(self, name: str, inputs: dict, connection: Connection) -> dict:
        """The module's inputs: the scenario's, and the tags every resource of the run carries.

        ``owner`` and ``region`` come from the scenario, else from ``TF_VAR_owner`` and
        ``TF_VAR_region`` in the environment (Terraform reads those itself).
        """
        defaults = {"owner": _login_name()} if "TF_VAR_owner" not in os.environ else {}
        return {
            **defaults,
            **inputs,
            "cluster_name": f"ts-{name}",
            "run_id": connection.run_id,
            "scenario": connection.directory.name,
            "deletion_delay": f"{int(connection.deletion_delay.total_seconds())}s",
        }

    def connect(self, outputs: dict, settings: Mapping, connection: Connection) -> KubernetesTarget:
        target = connect(
            outputs,
            connection.echo,
            connection.say,
            cloud=self.cloud,
            settings={k: v for k, v in settings.items() if k != "cluster"},
            run_id=connection.run_id,
            directory=connection.directory,
            deletion_due_time=connection.deletion_due_time,
        )
        # What the module asks to run in the cluster (EKS: the cluster autoscaler), created once it is up;
        # an object there already is taken as it is. kwok's installer creates objects of any kind.
        manifests = [document for document in yaml.safe_load_all(outputs.get("manifests") or "") if document]
        if manifests:
            kwok_release.install(target.api_client, manifests, what=f"{self.cloud} cluster manifests")
        return target


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's uid with no passwd entry and no $USER
        return "unknown"


class ExistingCluster:
    """Bring your own cluster: nothing to provision, the kubeconfig says where it is."""

    MODULE = None

    def provisioned(self, settings: Mapping) -> dict:
        return {}

    def connect(self, outputs: dict, settings: Mapping, connection: Connection) -> KubernetesTarget:
        return connect_existing(
            connection.kubeconfig,
            connection.echo,
            connection.say,
            settings=settings,
            run_id=connection.run_id,
            directory=connection.directory,
            deletion_due_time=connection.deletion_due_time,
        )


PROVIDERS = {
    "aks": ClusterProvider("aks", "azure"),
    "eks": ClusterProvider("eks", "aws"),
    "gke": ClusterProvider("gke", "gcp"),
    "existing": ExistingCluster(),
}
