"""What `dockyard bootstrap` can make, under which names, and the image configs it writes.

Pure: names in, a target out; layer digests and versions in, an image config out.
The configs follow the official images: `debian:bookworm` runs `bash` with
Debian's PATH; `python:3.11-slim` adds `LANG=C.UTF-8` and `PYTHON_VERSION` and
runs `python3`. `created` is the time of the mirror's release files the rootfs
was made from, so the same rootfs gives the same image ID.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.engine.images import host_platform
from dockyard.errors import InvalidArgument
from dockyard.oci.image_spec import HistoryItem, ImageConfig, RunConfig, rfc3339
from dockyard.store import references

__all__ = ["Target", "TARGETS", "resolve_target", "debian_config", "python_config", "PATH_ENV",
           "DEBIAN_SUITE", "PYTHON_PACKAGES", "known_targets"]

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEBIAN_SUITE = "bookworm"
PYTHON_PACKAGES = ("python3", "python3-pip", "python3-venv")


@dataclass(frozen=True)
class Target:
    kind: str                  # "busybox", "debian", "python"
    tags: tuple[str, ...]      # every name it is tagged with; the first is its own name
    about: str

    @property
    def name(self) -> str:
        return self.tags[0]


TARGETS = (
    Target("busybox", ("busybox:latest",), "the host's static busybox"),
    Target("debian", ("debian:bookworm", "debian:12", "debian:latest"),
           "Debian 12 minbase from the host's apt mirror"),
    Target("python", ("python:3.11-slim", "python:3.11", "python:3-slim", "python:3.11-slim-bookworm"),
           "debian:bookworm with Debian's python3, python3-pip and python3-venv"),
)


def _familiar(name: str) -> str:
    try:
        return references.parse_normalized(name).with_default_tag().familiar
    except InvalidArgument:
        return name


def resolve_target(name: str) -> Target:
    """The target named `name` (any alias, in any reference form: `debian`, `docker.io/library/debian:12`)."""
    wanted = _familiar(name.strip())
    for target in TARGETS:
        if wanted in target.tags:
            return target
    raise InvalidArgument(f"unknown base image {name!r}: can bootstrap {known_targets()}")


def known_targets() -> str:
    """`busybox, debian:bookworm (also debian:12, debian:latest), ...`: for error messages."""
    return ", ".join(t.name.removesuffix(":latest") + (f" (also {', '.join(t.tags[1:])})" if t.tags[1:] else "")
                     for t in TARGETS)


def debian_config(diff_id: str, created: int, created_by: str) -> ImageConfig:
    when = rfc3339(created * 1_000_000_000)
    os_name, arch = host_platform()
    return ImageConfig(
        diff_ids=(diff_id,),
        config=RunConfig(env=(PATH_ENV,), cmd=("bash",)),
        history=(HistoryItem(created=when, created_by=created_by),
                 HistoryItem(created=when, created_by='CMD ["bash"]', empty_layer=True)),
        created=when, architecture=arch, os=os_name)


def python_config(base: ImageConfig, diff_id: str, created: int, created_by: str,
                  python_version: str) -> ImageConfig:
    """The python image: `base` (the Debian image's config) plus one layer."""
    when = rfc3339(created * 1_000_000_000)
    env = (PATH_ENV, "LANG=C.UTF-8", f"PYTHON_VERSION={python_version}")
    history = base.history + (
        HistoryItem(created=when, created_by=created_by),
        HistoryItem(created=when, created_by=f"ENV {' '.join(env[1:])}", empty_layer=True),
        HistoryItem(created=when, created_by='CMD ["python3"]', empty_layer=True))
    return ImageConfig(
        diff_ids=(*base.diff_ids, diff_id),
        config=RunConfig(env=env, cmd=("python3",)),
        history=history, created=when, architecture=base.architecture, os=base.os)
