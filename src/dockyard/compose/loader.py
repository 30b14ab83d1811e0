"""Find, read, interpolate, merge, validate and normalise compose files into a `Project`.

The order is compose's: each file is parsed and interpolated on its own, then files are
merged, then the merged document is validated and normalised, then references between
services, networks and volumes are checked.
"""

from __future__ import annotations

import os

from dockyard.compose.envfile import read_env_file
from dockyard.compose.errors import ConfigError, FileNotFound
from dockyard.compose.interpolate import interpolate
from dockyard.compose.merge import merge_files
from dockyard.compose.model import Project, normalize_project_name, valid_project_name
from dockyard.compose.normalize import normalize_service, to_map
from dockyard.compose.schema import validate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["DEFAULT_FILES", "find_files", "load_project"]

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


def find_files(cwd: str) -> list[str]:
    """The first default file found in `cwd` or a parent directory, as compose looks."""
    d = os.path.abspath(cwd)
    while True:
        for name in DEFAULT_FILES:
            p = os.path.join(d, name)
            if os.path.isfile(p):
                return [p]
        parent = os.path.dirname(d)
        if parent == d:
            raise FileNotFound()
        d = parent


def _read_yaml(path: str) -> Any:
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise FileNotFound(f"open {path}: no such file or directory") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise ConfigError(f"yaml: {where}{getattr(e, 'problem', None) or e}") from None
    if doc is None:
        raise ConfigError(f"empty compose file: {path}")
    if not isinstance(doc, dict):
        raise ConfigError(f"Top-level object must be a mapping: {path}")
    return doc


def _resources(kind: str, section: dict[str, Any], project: str) -> dict[str, dict[str, Any]]:
    out = {}
    for key, item in section.items():
        item = dict(item or {})
        ext = item.get("external")
        if isinstance(ext, dict):  # the old `external: {name: x}` form
            item["name"] = ext.get("name", item.get("name"))
            item["external"] = True
        if "labels" in item:
            item["labels"] = to_map(item["labels"])
        item.setdefault("name", key if item.get("external") else f"{project}_{key}")
        out[key] = item
    return out


def _check_refs(p: Project) -> None:
    for name, svc in p.services.items():
        if "image" not in svc and "build" not in svc:
            raise ConfigError(f'service "{name}" has neither an image nor a build context specified: '
                              "invalid compose project")
        for dep in svc.get("depends_on", {}):
            if dep not in p.services:
                raise ConfigError(f'service "{name}" depends on undefined service "{dep}": invalid compose project')
        for net in svc.get("networks", {}):
            if net not in p.networks:
                raise ConfigError(f'service "{name}" refers to undefined network {net}: invalid compose project')
        for vol in svc.get("volumes", []):
            if vol.get("type") == "volume" and vol.get("source") and vol["source"] not in p.volumes:
                raise ConfigError(f'service "{name}" refers to undefined volume {vol["source"]}: '
                                  "invalid compose project")


def load_project(
    files: list[str] | None = None,
    project_name: str | None = None,
    project_dir: str | None = None,
    env_files: list[str] | None = None,
    cwd: str | None = None,
    environ: dict[str, str] | None = None,
) -> Project:
    cwd = os.path.abspath(cwd or os.getcwd())
    paths = [os.path.abspath(os.path.join(cwd, f)) for f in files] if files else find_files(cwd)
    workdir = os.path.abspath(project_dir) if project_dir else os.path.dirname(paths[0])
    env = dict(os.environ if environ is None else environ)
    dotenv: dict[str, str] = {}
    for ef in env_files or [os.path.join(workdir, ".env")]:
        dotenv.update(read_env_file(ef, required=bool(env_files)))
    env = {**dotenv, **env}  # the shell's environment wins over .env
    docs = []
    for path in paths:
        raw = _read_yaml(path)
        try:
            docs.append(interpolate(raw, env))
        except ConfigError as e:
            raise ConfigError(f"{e.message}") from None
    merged = merge_files(docs)
    validate(merged, paths[0] if len(paths) == 1 else ", ".join(paths))
    name = project_name or env.get("COMPOSE_PROJECT_NAME") or merged.get("name")
    if name:
        if not valid_project_name(name):
            raise ConfigError(f'invalid project name "{name}": must consist only of lowercase alphanumeric '
                              "characters, hyphens, and underscores as well as start with a letter or number")
    else:
        name = normalize_project_name(os.path.basename(workdir))
        if not name:
            raise ConfigError("project name must not be empty")
    services = {svc: normalize_service(svc, body or {}, workdir, env)
                for svc, body in (merged.get("services") or {}).items()}
    networks = dict(merged.get("networks") or {})
    if any("default" in s.get("networks", {}) for s in services.values()) and "default" not in networks:
        networks["default"] = {}
    p = Project(name=name, working_dir=workdir, config_files=paths, services=services,
                networks=_resources("network", networks, name),
                volumes=_resources("volume", dict(merged.get("volumes") or {}), name), environment=env)
    _check_refs(p)
    return p
