"""The resolved project: what `compose config` prints and what `up` acts on."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Project", "normalize_project_name", "valid_project_name"]

_VALID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def normalize_project_name(name: str) -> str:
    """compose's NormalizeProjectName: lower-case, keep `[a-z0-9_-]`, start with a letter or digit."""
    out = re.sub(r"[^a-z0-9_-]", "", name.lower())
    return out.lstrip("_-")


def valid_project_name(name: str) -> bool:
    return bool(_VALID.match(name))


@dataclass
class Project:
    name: str
    working_dir: str
    config_files: list[str]
    services: dict[str, dict[str, Any]]
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name, "services": self.services}
        if self.networks:
            doc["networks"] = self.networks
        if self.volumes:
            doc["volumes"] = self.volumes
        return doc

    def network_name(self, key: str) -> str:
        return self.networks[key]["name"]

    def volume_name(self, key: str) -> str:
        return self.volumes[key]["name"]
