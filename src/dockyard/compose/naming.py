"""Names and labels exactly as compose v2 gives them: how compose finds its objects again.

compose never keeps state of its own: every container, network and volume carries
`com.docker.compose.*` labels, and later commands find them by label filter.
"""

from __future__ import annotations

import hashlib
import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "COMPOSE_VERSION", "PROJECT", "SERVICE", "NUMBER", "ONEOFF", "CONFIG_HASH",
    "container_name", "oneoff_name", "container_labels", "network_labels", "volume_labels",
    "config_hash", "depends_on_label", "image_name",
]

COMPOSE_VERSION = "2.36.0"  # the compose release whose behaviour this follows
PREFIX = "com.docker.compose."
PROJECT = PREFIX + "project"
SERVICE = PREFIX + "service"
NUMBER = PREFIX + "container-number"
ONEOFF = PREFIX + "oneoff"
CONFIG_HASH = PREFIX + "config-hash"


def container_name(project: str, service: str, number: int) -> str:
    return f"{project}-{service}-{number}"


def oneoff_name(project: str, service: str, suffix: str) -> str:
    return f"{project}-{service}-run-{suffix}"


def image_name(project: str, service: str) -> str:
    """The tag of a service built without an `image:` key."""
    return f"{project}-{service}"


def config_hash(service: dict[str, Any]) -> str:
    """A digest of what makes a container: a changed service gets a new one, and is recreated.

    As compose, scale, replicas, dependencies and profiles are left out: changing them must not
    recreate a container.
    """
    doc = {k: v for k, v in service.items() if k not in ("scale", "depends_on", "profiles")}
    if isinstance(doc.get("deploy"), dict):
        doc["deploy"] = {k: v for k, v in doc["deploy"].items() if k != "replicas"}
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def depends_on_label(service: dict[str, Any]) -> str:
    """`svc:condition:restart` items, comma-joined, as compose writes them."""
    items = []
    for dep, opts in (service.get("depends_on") or {}).items():
        items.append(f"{dep}:{opts.get('condition', 'service_started')}:{str(bool(opts.get('restart'))).lower()}")
    return ",".join(items)


def container_labels(
    project: str, service: str, number: int, *, working_dir: str, config_files: list[str],
    hash_: str, image_id: str, depends_on: str, oneoff: bool = False,
) -> dict[str, str]:
    return {
        PROJECT: project,
        SERVICE: service,
        NUMBER: str(number),
        ONEOFF: "True" if oneoff else "False",
        PREFIX + "project.working_dir": working_dir,
        PREFIX + "project.config_files": ",".join(config_files),
        CONFIG_HASH: hash_,
        PREFIX + "version": COMPOSE_VERSION,
        PREFIX + "depends_on": depends_on,
        PREFIX + "image": image_id,
    }


def network_labels(project: str, key: str) -> dict[str, str]:
    return {PROJECT: project, PREFIX + "network": key, PREFIX + "version": COMPOSE_VERSION}


def volume_labels(project: str, key: str) -> dict[str, str]:
    return {PROJECT: project, PREFIX + "volume": key, PREFIX + "version": COMPOSE_VERSION}
