"""`GET /system/df`: what images, containers, volumes and the build cache take on disk, as moby counts.

* images: the top-level images (as `docker images`), each with the number of containers
  using it and its `SharedSize`: the sizes of its layers that more than one image (any
  image, build steps included) has in its stack;
* `LayersSize`: the layers of the images that are tagged or have no children
  (moby's ImageDiskUsage), each counted once;
* containers: every container with `SizeRw` (its writable layer) and `SizeRootFs`
  (that plus its image);
* volumes and build cache: filled by the API handler from the volume service and the
  builder (the unpacked contexts it keeps; its build steps are images, counted above).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dockyard.fsusage import apparent_size
from dockyard.oci.image_spec import chain_ids

__all__ = ["DiskUsage", "disk_usage", "container_sizes", "DF_TYPES"]

DF_TYPES = ("container", "image", "volume", "build-cache")


@dataclass
class DiskUsage:
    layers_size: int = 0
    images: list[tuple[Any, int, int]] | None = None           # (ImageRecord, containers, shared size)
    containers: list[tuple[Any, int, int]] | None = None       # (Container, SizeRw, SizeRootFs)
    volumes: list[Any] | None = None
    build_cache: list[Any] | None = field(default=None)


def container_sizes(containers: Any, c: Any) -> tuple[int, int]:
    """(SizeRw, SizeRootFs) of container `c`."""
    rw = apparent_size(containers.paths.container(c.id) / "rw" / "upper")
    try:
        base = containers.images.resolve(c.image_id).size
    except Exception:  # noqa: BLE001 - an image force-removed under the container counts as 0
        base = 0
    return rw, rw + base


def _chains(record_config: dict[str, Any]) -> list[str]:
    return chain_ids(list((record_config.get("rootfs") or {}).get("diff_ids") or []))


def _image_usage(images: Any, per_image: dict[str, int]) -> tuple[int, list[tuple[Any, int, int]]]:
    sizes = {r["chain_id"]: int(r["size"]) for r in images.db.query("SELECT chain_id, size FROM snapshots")}
    rows = images.db.query("SELECT id, parent FROM images")
    has_children = {r["parent"] for r in rows if r["parent"]}
    tagged = {r["image_id"] for r in images.db.query("SELECT DISTINCT image_id FROM tags")}
    refs: Counter[str] = Counter()
    counted: set[str] = set()
    for row in rows:
        chains = _chains(images._load(row["id"]).config)
        refs.update(chains)
        if row["id"] in tagged or row["id"] not in has_children:
            counted.update(chains)
    layers_size = sum(sizes.get(ch, 0) for ch in counted)
    items = []
    for record in images.list():
        shared = sum(sizes.get(ch, 0) for ch in _chains(record.config) if refs[ch] > 1)
        items.append((record, per_image.get(record.id, 0), shared))
    return layers_size, items


def disk_usage(containers: Any, images: Any, types: set[str]) -> DiskUsage:
    """The usage of the kinds in `types` (a subset of DF_TYPES); the others stay None."""
    du = DiskUsage()
    all_containers = containers.list()
    if "container" in types:
        du.containers = [(c, *container_sizes(containers, c)) for c in all_containers]
    if "image" in types:
        per_image: Counter[str] = Counter(c.image_id for c in all_containers)
        du.layers_size, du.images = _image_usage(images, dict(per_image))
    if "volume" in types:
        du.volumes = []
    if "build-cache" in types:
        du.build_cache = []
    return du
