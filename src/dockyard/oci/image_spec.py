"""OCI image-spec documents (with Docker's v2 media types) as frozen dataclasses.

Each document has `to_json()` (a plain dict in the spec's own key names) and
`from_json(dict)`; `canonical_json()` turns a dict into the bytes we store and hash
(sorted keys, no whitespace, UTF-8). Keys the dataclasses do not model are kept
in `extra` so a config read from a registry or a `docker save` tar round-trips;
but when an image's identity matters, store its original bytes, never re-encode.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "MEDIA_TYPE_OCI_INDEX", "MEDIA_TYPE_OCI_MANIFEST", "MEDIA_TYPE_OCI_CONFIG",
    "MEDIA_TYPE_OCI_LAYER", "MEDIA_TYPE_OCI_LAYER_GZIP", "MEDIA_TYPE_OCI_LAYER_ZSTD",
    "MEDIA_TYPE_DOCKER_MANIFEST", "MEDIA_TYPE_DOCKER_MANIFEST_LIST", "MEDIA_TYPE_DOCKER_CONFIG",
    "MEDIA_TYPE_DOCKER_LAYER", "MEDIA_TYPE_DOCKER_FOREIGN_LAYER",
    "LAYER_MEDIA_TYPES", "MANIFEST_MEDIA_TYPES", "INDEX_MEDIA_TYPES",
    "Platform", "Descriptor", "Manifest", "Index",
    "Healthcheck", "RunConfig", "HistoryItem", "ImageConfig",
    "canonical_json", "chain_ids", "rfc3339", "rfc3339_now", "parse_rfc3339",
]

MEDIA_TYPE_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPE_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_TYPE_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_TYPE_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_TYPE_OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MEDIA_TYPE_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_TYPE_DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_TYPE_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_TYPE_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MEDIA_TYPE_DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

LAYER_MEDIA_TYPES = frozenset({
    MEDIA_TYPE_OCI_LAYER, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_LAYER_ZSTD,
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    MEDIA_TYPE_DOCKER_LAYER, MEDIA_TYPE_DOCKER_FOREIGN_LAYER,
})
MANIFEST_MEDIA_TYPES = frozenset({MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST})
INDEX_MEDIA_TYPES = frozenset({MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_DOCKER_MANIFEST_LIST})


# ---------------------------------------------------------------- helpers

def canonical_json(doc: Any) -> bytes:
    """The stored form of a JSON document: sorted keys, no insignificant whitespace, UTF-8."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """OCI ChainIDs: chain[0] = diff[0]; chain[n] = sha256(chain[n-1] + " " + diff[n])."""
    out: list[str] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest())
    return out


def rfc3339(ns: int) -> str:
    """Go's RFC3339Nano in UTC: fractional seconds with trailing zeros dropped."""
    secs, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return base + (f".{frac:09d}".rstrip("0") if frac else "") + "Z"


def rfc3339_now() -> str:
    return rfc3339(time.time_ns())


_RFC3339_RE = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([Zz])|([+-])(\d\d):(\d\d))")


def parse_rfc3339(value: str) -> float:
    """Seconds since the epoch for an RFC 3339 timestamp (nanoseconds tolerated); 0.0 if unparsable."""
    m = _RFC3339_RE.fullmatch(value.strip()) if value else None
    if not m:
        return 0.0
    year, mon, day, hh, mm, ss = (int(m.group(i)) for i in range(1, 7))
    frac = float("0." + m.group(7)) if m.group(7) else 0.0
    try:
        ts = datetime(year, mon, day, hh, mm, ss, tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0
    if m.group(9):
        offset = int(m.group(10)) * 3600 + int(m.group(11)) * 60
        ts -= offset if m.group(9) == "+" else -offset
    return ts + frac


def _known(doc: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in keys}


def _strs(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(str(v) for v in value)


# ---------------------------------------------------------------- descriptors

@dataclass(frozen=True)
class Platform:
    architecture: str = "amd64"
    os: str = "linux"
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            doc["variant"] = self.variant
        if self.os_version:
            doc["os.version"] = self.os_version
        if self.os_features:
            doc["os.features"] = list(self.os_features)
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Platform:
        return cls(architecture=doc.get("architecture", ""), os=doc.get("os", ""),
                   variant=doc.get("variant", ""), os_version=doc.get("os.version", ""),
                   os_features=tuple(doc.get("os.features") or ()))


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    artifact_type: str = ""

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.urls:
            doc["urls"] = list(self.urls)
        if self.annotations:
            doc["annotations"] = dict(self.annotations)
        if self.platform is not None:
            doc["platform"] = self.platform.to_json()
        if self.artifact_type:
            doc["artifactType"] = self.artifact_type
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Descriptor:
        plat = doc.get("platform")
        return cls(media_type=doc.get("mediaType", ""), digest=doc["digest"], size=int(doc["size"]),
                   urls=tuple(doc.get("urls") or ()), annotations=dict(doc.get("annotations") or {}),
                   platform=Platform.from_json(plat) if plat else None,
                   artifact_type=doc.get("artifactType", ""))


@dataclass(frozen=True)
class Manifest:
    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str = MEDIA_TYPE_OCI_MANIFEST
    annotations: Mapping[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": self.media_type,
                               "config": self.config.to_json(),
                               "layers": [layer.to_json() for layer in self.layers]}
        if self.annotations:
            doc["annotations"] = dict(self.annotations)
        if self.subject is not None:
            doc["subject"] = self.subject.to_json()
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Manifest:
        subject = doc.get("subject")
        return cls(config=Descriptor.from_json(doc["config"]),
                   layers=tuple(Descriptor.from_json(d) for d in doc.get("layers") or ()),
                   media_type=doc.get("mediaType", MEDIA_TYPE_OCI_MANIFEST),
                   annotations=dict(doc.get("annotations") or {}),
                   subject=Descriptor.from_json(subject) if subject else None)


@dataclass(frozen=True)
class Index:
    manifests: tuple[Descriptor, ...]
    media_type: str = MEDIA_TYPE_OCI_INDEX
    annotations: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": self.media_type,
                               "manifests": [m.to_json() for m in self.manifests]}
        if self.annotations:
            doc["annotations"] = dict(self.annotations)
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Index:
        return cls(manifests=tuple(Descriptor.from_json(d) for d in doc.get("manifests") or ()),
                   media_type=doc.get("mediaType", MEDIA_TYPE_OCI_INDEX),
                   annotations=dict(doc.get("annotations") or {}))


# ---------------------------------------------------------------- image config

@dataclass(frozen=True)
class Healthcheck:
    """Docker's extension to the image config; durations in nanoseconds."""
    test: tuple[str, ...] = ()
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"Test": list(self.test)}
        for key, value in (("Interval", self.interval), ("Timeout", self.timeout),
                           ("StartPeriod", self.start_period), ("StartInterval", self.start_interval),
                           ("Retries", self.retries)):
            if value:
                doc[key] = value
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Healthcheck:
        return cls(test=tuple(doc.get("Test") or ()), interval=int(doc.get("Interval") or 0),
                   timeout=int(doc.get("Timeout") or 0), start_period=int(doc.get("StartPeriod") or 0),
                   start_interval=int(doc.get("StartInterval") or 0), retries=int(doc.get("Retries") or 0))


_RUN_KEYS = ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels",
             "StopSignal", "ArgsEscaped", "Healthcheck", "OnBuild", "Shell")


@dataclass(frozen=True)
class RunConfig:
    """The `config` object of an image config: defaults for containers run from it."""
    user: str = ""
    exposed_ports: tuple[str, ...] = ()      # "80/tcp"
    env: tuple[str, ...] = ()                # "K=V"
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    volumes: tuple[str, ...] = ()
    working_dir: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    stop_signal: str = ""
    args_escaped: bool = False
    healthcheck: Healthcheck | None = None
    on_build: tuple[str, ...] = ()
    shell: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = dict(self.extra)
        if self.user:
            doc["User"] = self.user
        if self.exposed_ports:
            doc["ExposedPorts"] = {p: {} for p in self.exposed_ports}
        if self.env:
            doc["Env"] = list(self.env)
        if self.entrypoint is not None:
            doc["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            doc["Cmd"] = list(self.cmd)
        if self.volumes:
            doc["Volumes"] = {v: {} for v in self.volumes}
        if self.working_dir:
            doc["WorkingDir"] = self.working_dir
        if self.labels:
            doc["Labels"] = dict(self.labels)
        if self.stop_signal:
            doc["StopSignal"] = self.stop_signal
        if self.args_escaped:
            doc["ArgsEscaped"] = True
        if self.healthcheck is not None:
            doc["Healthcheck"] = self.healthcheck.to_json()
        if self.on_build:
            doc["OnBuild"] = list(self.on_build)
        if self.shell:
            doc["Shell"] = list(self.shell)
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any] | None) -> RunConfig:
        doc = doc or {}
        health = doc.get("Healthcheck")
        return cls(user=doc.get("User") or "", exposed_ports=tuple(doc.get("ExposedPorts") or {}),
                   env=tuple(doc.get("Env") or ()), entrypoint=_strs(doc.get("Entrypoint")),
                   cmd=_strs(doc.get("Cmd")), volumes=tuple(doc.get("Volumes") or {}),
                   working_dir=doc.get("WorkingDir") or "", labels=dict(doc.get("Labels") or {}),
                   stop_signal=doc.get("StopSignal") or "", args_escaped=bool(doc.get("ArgsEscaped")),
                   healthcheck=Healthcheck.from_json(health) if health else None,
                   on_build=tuple(doc.get("OnBuild") or ()), shell=tuple(doc.get("Shell") or ()),
                   extra=_known(doc, _RUN_KEYS))


@dataclass(frozen=True)
class HistoryItem:
    created: str = ""
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        for key, value in (("created", self.created), ("created_by", self.created_by),
                           ("author", self.author), ("comment", self.comment)):
            if value:
                doc[key] = value
        if self.empty_layer:
            doc["empty_layer"] = True
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> HistoryItem:
        return cls(created=doc.get("created") or "", created_by=doc.get("created_by") or "",
                   author=doc.get("author") or "", comment=doc.get("comment") or "",
                   empty_layer=bool(doc.get("empty_layer")))


_IMAGE_KEYS = ("created", "author", "architecture", "os", "variant", "os.version", "config",
               "rootfs", "history", "comment")


@dataclass(frozen=True)
class ImageConfig:
    """An image config document (application/vnd.oci.image.config.v1+json)."""
    diff_ids: tuple[str, ...] = ()
    config: RunConfig = field(default_factory=RunConfig)
    history: tuple[HistoryItem, ...] = ()
    created: str = ""
    author: str = ""
    comment: str = ""                 # Docker's top-level comment (docker import -m)
    architecture: str = "amd64"
    os: str = "linux"
    variant: str = ""
    os_version: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = dict(self.extra)
        doc.update({"architecture": self.architecture, "os": self.os,
                    "config": self.config.to_json(),
                    "rootfs": {"type": "layers", "diff_ids": list(self.diff_ids)}})
        for key, value in (("created", self.created), ("author", self.author),
                           ("comment", self.comment), ("variant", self.variant),
                           ("os.version", self.os_version)):
            if value:
                doc[key] = value
        if self.history:
            doc["history"] = [h.to_json() for h in self.history]
        return doc

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ImageConfig:
        rootfs = doc.get("rootfs") or {}
        return cls(diff_ids=tuple(rootfs.get("diff_ids") or ()), config=RunConfig.from_json(doc.get("config")),
                   history=tuple(HistoryItem.from_json(h) for h in doc.get("history") or ()),
                   created=doc.get("created") or "", author=doc.get("author") or "",
                   comment=doc.get("comment") or "", architecture=doc.get("architecture") or "",
                   os=doc.get("os") or "", variant=doc.get("variant") or "",
                   os_version=doc.get("os.version") or "", extra=_known(doc, _IMAGE_KEYS))

    @classmethod
    def from_bytes(cls, data: bytes) -> ImageConfig:
        return cls.from_json(json.loads(data))
