"""A cluster target's settings: a scenario's ``target.<cloud>``, checked key by key.

All optional: ``placement`` (same-node, different-node, different-zone;
default different-node), ``host_network``, ``node_selector`` (every pod),
``node_selectors`` (role -> labels), ``tolerations``, ``storage`` (os-disk,
host-path, pvc), ``storage_class``, ``storage_size``, ``host_path``,
``image_registry``, ``images`` (tool -> image), ``node_pools`` (name ->
{count, labels}: expected nodes, for an existing cluster), ``ready_timeout``
and ``pod_ready_timeout`` (seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from pytest_telescope.errors import ProvisionError
from pytest_telescope.targets.kubernetes import manifests

ROLES = ("server", "client")


@dataclass(frozen=True)
class ClusterSettings:
    placement: str = "different-node"
    host_network: bool = False
    node_selector: Mapping[str, str] = field(default_factory=dict)
    node_selectors: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    tolerations: Sequence[Mapping] = ()
    storage: str = "os-disk"
    storage_class: str | None = None
    storage_size: str = "10Gi"
    host_path: str = "/mnt/telescope"
    image_registry: str | None = None
    images: Mapping[str, str] = field(default_factory=dict)
    node_pools: Mapping[str, Mapping] = field(default_factory=dict)
    ready_timeout: float = 900.0
    pod_ready_timeout: float = 300.0

    @classmethod
    def of(cls, settings: Mapping) -> "ClusterSettings":
        known = cls.__dataclass_fields__
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise ProvisionError(f"target settings: {unknown[0]}: unknown key (known: {', '.join(known)})")
        for key, value in settings.items():
            expected = _SETTING_TYPES[key]
            if not isinstance(value, expected) or (isinstance(value, bool) and bool not in _as_tuple(expected)):
                raise ProvisionError(f"target settings: {key}: {value!r} is not {_type_names(expected)}")
        found = cls(**settings)
        if found.placement not in manifests.PLACEMENTS:
            raise ProvisionError(f"target settings: placement: {found.placement!r} is not one of {', '.join(manifests.PLACEMENTS)}")
        if found.storage not in manifests.STORAGE_KINDS:
            raise ProvisionError(f"target settings: storage: {found.storage!r} is not one of {', '.join(manifests.STORAGE_KINDS)}")
        for role in found.node_selectors:
            if role not in ROLES:
                raise ProvisionError(f"target settings: node_selectors.{role}: not a role (roles: {', '.join(ROLES)})")
        for tool in found.images:
            if tool not in manifests.DEFAULT_IMAGES:
                raise ProvisionError(f"target settings: images.{tool}: not a tool (tools: {', '.join(manifests.DEFAULT_IMAGES)})")
        return found

    def selector(self, role: str) -> dict[str, str]:
        return {**self.node_selector, **self.node_selectors.get(role, {})}

    def images_by_tool(self) -> dict[str, str]:
        return {tool: manifests.image(tool, self.image_registry, dict(self.images)) for tool in manifests.DEFAULT_IMAGES}


_SETTING_TYPES: dict[str, type | tuple[type, ...]] = {
    "placement": str,
    "host_network": bool,
    "node_selector": dict,
    "node_selectors": dict,
    "tolerations": list,
    "storage": str,
    "storage_class": str,
    "storage_size": str,
    "host_path": str,
    "image_registry": str,
    "images": dict,
    "node_pools": dict,
    "ready_timeout": (int, float),
    "pod_ready_timeout": (int, float),
}


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _type_names(types: type | tuple[type, ...]) -> str:
    names = {"str": "a string", "bool": "true or false", "dict": "a mapping", "list": "a list", "int": "a number", "float": "a number"}
    return " or ".join(dict.fromkeys(names[t.__name__] for t in _as_tuple(types)))
