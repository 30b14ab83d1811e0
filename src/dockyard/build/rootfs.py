"""An image's filesystem mounted for a build step, with a fresh writable layer on top.

COPY, ADD and WORKDIR change files without running anything: the step mounts the
image's layers under an empty upper dir, works in the merged view (so
destination paths resolve against what the image really holds), unmounts, and
the upper dir is exactly the step's layer. `COPY --from` reads another image's
filesystem the same way and never writes to it.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dockyard.store.snapshots import mount_rootfs, unmount

__all__ = ["ScratchRootfs", "scratch_rootfs"]


class ScratchRootfs:
    def __init__(self, base: Path, lowerdirs: list[str]) -> None:
        self.merged = base / "merged"   # the image's filesystem, writable; changes land in `upper`
        self.upper = base / "upper"
        self.work = base / "work"
        self.lowerdirs = lowerdirs      # the image's layers, top first
        self.is_mounted = False

    def mount(self) -> None:
        for d in (self.merged, self.upper, self.work):
            d.mkdir(exist_ok=True)
        mount_rootfs(self.lowerdirs, str(self.upper), str(self.work), str(self.merged))
        self.is_mounted = True

    def unmount(self) -> None:
        """Before reading `upper` as a layer: nothing may change it any more."""
        if self.is_mounted:
            unmount(str(self.merged))
            self.is_mounted = False


@contextlib.contextmanager
def scratch_rootfs(lowerdirs: list[str], scratch_parent: Path) -> Iterator[ScratchRootfs]:
    """`lowerdirs` (top first) mounted under an empty upper, in a temp dir below `scratch_parent`
    (in the data root: the upper may be moved into the snapshot store, on the same filesystem).
    Unmounted and removed on exit."""
    scratch_parent.mkdir(parents=True, exist_ok=True)
    fs = ScratchRootfs(Path(tempfile.mkdtemp(prefix="build-", dir=scratch_parent)), list(lowerdirs))
    try:
        fs.mount()
        yield fs
    finally:
        fs.unmount()
        shutil.rmtree(fs.upper.parent, ignore_errors=True)
