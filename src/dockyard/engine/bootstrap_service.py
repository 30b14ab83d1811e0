"""`dockyard bootstrap NAME`: base images without a registry (busybox, debian:bookworm, python:3.11-slim).

Each image is found the cheapest way that works, in this order:
1. its cache record gives its config, so its image ID: the image is in the store → only tag it;
2. the built layer is in the bootstrap cache → import it (no network, a few seconds);
3. build it (debootstrap, or apt-get in an overlay on the Debian image), writing the
   layer into the store and into the cache in one pass.
python:3.11-slim is the Debian image's layer plus one of its own, so the two share
the Debian layer in the store. Builds of one kind hold a lock on the cache (several
daemons may share it), and run in the caller's thread: the API runs them in a worker
thread and relays `progress` messages (pull-style JSON objects) to the client.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.engine import aptsources, debian_rootfs, python_layer
from dockyard.engine.bootstrap import TarStream, bootstrap_busybox
from dockyard.engine.bootstrap_cache import BootstrapCache, TeeReader
from dockyard.engine.bootstrap_catalog import (
    DEBIAN_SUITE,
    PYTHON_PACKAGES,
    TARGETS,
    Target,
    debian_config,
    python_config,
    resolve_target,
)
from dockyard.engine.hostsettings import HostSettings
from dockyard.engine.images import ImageService, host_platform
from dockyard.engine.images_model import ImageRecord, LayerBlob
from dockyard.errors import SystemError_
from dockyard.oci.image_spec import ImageConfig
from dockyard.store.treetar import tree_tar

__all__ = ["Bootstrapper", "Progress", "RECIPE_VERSION"]

Progress = Callable[[dict[str, Any]], None]
RECIPE_VERSION = 1   # bump when a build step changes what goes into a layer: old cache entries stop matching
_DEBIAN = next(t for t in TARGETS if t.kind == "debian")


@dataclass(frozen=True)
class _Plan:
    """How to get one image: its cache key, its config from a cache record, its layers below."""
    name: str
    key: str
    config: Callable[[dict[str, Any]], ImageConfig]
    build: Callable[[Path, Progress], tuple[Iterator[bytes], dict[str, Any]]]
    base_layers: Callable[[], list[LayerBlob]]


class Bootstrapper:
    def __init__(self, images: ImageService, cache_dir: Path, *,
                 host: Callable[[], HostSettings] = HostSettings.read, mirror: str = "") -> None:
        self.images = images
        self.cache = BootstrapCache(cache_dir)
        self._read_host = host
        self.mirror = mirror.rstrip("/")   # "" = the host's apt mirror

    @staticmethod
    def target(name: str) -> Target:
        return resolve_target(name)

    def bootstrap(self, target: Target, progress: Progress, tag: str = "", *, refresh: bool = False) -> ImageRecord:
        """Make `target` (tagged with all its names, or only `tag`). `refresh`: build its layers again
        from the mirror (picking up new packages), whatever the store and the cache hold."""
        tags = [tag] if tag else list(target.tags)
        if target.kind == "busybox":
            return bootstrap_busybox(self.images, tags[0])
        host = self._read_host()
        debian = self._debian_plan(host)
        if target.kind == "debian":
            return self._ensure(debian, tags, progress, refresh)[0]
        record = self.cache.record(debian.key)
        if record is not None and not refresh:   # the python image's ID is known without the Debian image
            found = self._existing(self._python_plan(host, debian.config(record), ""), tags, progress)
            if found is not None:
                return found
        base, base_config = self._ensure(debian, list(_DEBIAN.tags), progress, refresh)
        return self._ensure(self._python_plan(host, base_config, base.id), tags, progress, refresh)[0]

    # ------------------------------------------------------------ plans
    def _debian_plan(self, host: HostSettings) -> _Plan:
        suite = DEBIAN_SUITE
        _, arch = host_platform()
        if self.mirror:
            mirror = self.mirror
            sources = aptsources.image_sources(
                [aptsources.AptSource(("deb",), (mirror,), (suite,), ("main",))], suite, suite)
        else:
            mirror = aptsources.debian_mirror(host.sources, host.codename, suite)
            sources = aptsources.image_sources(host.sources, host.codename, suite)
        key = self.cache.key({"kind": "debian", "v": RECIPE_VERSION, "suite": suite, "arch": arch,
                              "mirror": mirror, "sources": sources, "host": host.fingerprint()})
        created_by = f"dockyard bootstrap: debootstrap --variant=minbase {suite} / {mirror}; apt-get dist-upgrade"

        def build(tmp: Path, progress: Progress) -> tuple[Iterator[bytes], dict[str, Any]]:
            debootstrap = debian_rootfs.find_debootstrap()
            debian_rootfs.check_mirror(mirror, suite)
            root = tmp / "rootfs"
            progress({"status": f"debootstrap --variant=minbase {suite} from {mirror}"})
            debian_rootfs.run_debootstrap(root, suite=suite, mirror=mirror, debs=self.cache.debs_dir(suite, arch),
                                          debootstrap=debootstrap, on_line=_debootstrap_progress(progress),
                                          env=host.proxy_env)
            progress({"status": "Installing the updates from the image's apt sources (-updates, -security)"})
            lists, archives = self.cache.apt_dirs(suite, arch)
            epoch = debian_rootfs.customise(root, sources=sources, host=host, lists=lists, archives=archives,
                                            on_line=_apt_progress(progress))
            return tree_tar(str(root), clamp_mtime=epoch), {"created": epoch, "created_by": created_by}

        return _Plan(_DEBIAN.name, key, lambda r: debian_config(r["diff_id"], r["created"], r["created_by"]),
                     build, lambda: [])

    def _python_plan(self, host: HostSettings, base: ImageConfig, base_id: str) -> _Plan:
        suite = DEBIAN_SUITE
        _, arch = host_platform()
        key = self.cache.key({"kind": "python", "v": RECIPE_VERSION, "base": list(base.diff_ids),
                              "packages": list(PYTHON_PACKAGES), "pip": host.pip_conf})
        created_by = f"dockyard bootstrap: apt-get install --no-install-recommends {' '.join(PYTHON_PACKAGES)}"
        name = next(t for t in TARGETS if t.kind == "python").name

        def build(tmp: Path, progress: Progress) -> tuple[Iterator[bytes], dict[str, Any]]:
            progress({"status": f"Installing {', '.join(PYTHON_PACKAGES)} on {_DEBIAN.name}"})
            lists, archives = self.cache.apt_dirs(suite, arch)
            upper, version, epoch = python_layer.build_python_upper(
                self.images.rootfs_lowerdirs(base_id), tmp, host=host, lists=lists, archives=archives,
                on_line=_apt_progress(progress))
            if not version.startswith("3.11."):
                raise SystemError_(f"Debian {suite} now has Python {version}, not 3.11: cannot tag it {name}")
            return tree_tar(str(upper), clamp_mtime=epoch, upper=True), {
                "created": epoch, "created_by": created_by, "python_version": version}

        def config(r: dict[str, Any]) -> ImageConfig:
            return python_config(base, r["diff_id"], r["created"], r["created_by"], r["python_version"])

        return _Plan(name, key, config, build, lambda: self.images.image_layers(base_id))

    # ------------------------------------------------------------ getting an image
    def _existing(self, plan: _Plan, tags: list[str], progress: Progress) -> ImageRecord | None:
        record = self.cache.record(plan.key)
        if record is None:
            return None
        try:
            config = plan.config(record)
        except (KeyError, TypeError, ValueError):
            return None
        image_id = "sha256:" + hashlib.sha256(config.to_bytes()).hexdigest()
        if not self.images.db.query_one("SELECT 1 FROM images WHERE id = ?", (image_id,)):
            return None
        self.images.add_tags(image_id, tags)
        progress({"status": f"Image is up to date for {plan.name}"})
        return self.images.resolve(image_id)

    def _ensure(self, plan: _Plan, tags: list[str], progress: Progress,
                refresh: bool = False) -> tuple[ImageRecord, ImageConfig]:
        found = None if refresh else self._existing(plan, tags, progress)
        if found is not None:
            return found, ImageConfig.from_json(found.config)
        with self.cache.lock(plan.key):
            if refresh:
                return self._build(plan, tags, progress)
            found = self._existing(plan, tags, progress)   # made meanwhile by another request or daemon
            if found is not None:
                return found, ImageConfig.from_json(found.config)
            record = self.cache.record(plan.key)
            if record is not None:
                made = self._from_cache(plan, record, tags, progress)
                if made is not None:
                    return made
            return self._build(plan, tags, progress)

    def _from_cache(self, plan: _Plan, record: dict[str, Any], tags: list[str],
                    progress: Progress) -> tuple[ImageRecord, ImageConfig] | None:
        progress({"status": f"Importing {plan.name} from the bootstrap cache ({self.cache.root})"})
        config = plan.config(record)
        with open(self.cache.layer_path(plan.key), "rb") as f:
            layer = self.images.ingest_layer(f)
        if layer.diff_id != record.get("diff_id"):
            self.images.discard_layers([layer])
            self.cache.drop(plan.key)
            progress({"status": f"The cached layer of {plan.name} is damaged: building it again"})
            return None
        return self.images.store_image(config, plan.base_layers() + [layer], tags), config

    def _build(self, plan: _Plan, tags: list[str], progress: Progress) -> tuple[ImageRecord, ImageConfig]:
        self.images.paths.tmp_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="bootstrap-", dir=self.images.paths.tmp_dir) as tmp:
            os.chmod(tmp, 0o755)   # the rootfs's own / has these permissions
            chunks, info = plan.build(Path(tmp), progress)
            progress({"status": f"Writing the layer of {plan.name}"})
            with self.cache.layer_writer(plan.key) as (gz, record):
                layer = self.images.ingest_layer(TeeReader(TarStream(chunks), gz))
                try:
                    record.update(info, diff_id=layer.diff_id)
                    config = plan.config(record)
                    base = plan.base_layers()
                except BaseException:
                    self.images.discard_layers([layer])
                    raise
                image = self.images.store_image(config, base + [layer], tags)
        return image, config


def _debootstrap_progress(progress: Progress) -> Callable[[str], None]:
    def on_line(line: str) -> None:
        m = debian_rootfs.DEBOOTSTRAP_LINE.match(line)
        if m:
            progress({"id": "debootstrap", "status": f"{m.group(1)} {m.group(2)}"})
        else:
            progress({"status": "debootstrap: " + line.removeprefix("I: ")})
    return on_line


def _apt_progress(progress: Progress) -> Callable[[str], None]:
    def on_line(line: str) -> None:
        progress({"id": "apt-get", "status": line})
    return on_line

