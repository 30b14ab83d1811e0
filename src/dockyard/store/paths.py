"""The on-disk layout of a daemon, one function per kind of path.

data root (persistent, default /var/lib/dockyard):
    dockyard.db                      SQLite metadata (WAL)
    blobs/sha256/<hex>               content-addressed blobs (layers, configs, manifests)
    tmp/                             temp files, renamed into place (same filesystem)
    snapshots/<chain-hex>/fs         one unpacked layer, an overlay lowerdir
    volumes/<name>/_data             a named volume's files (volume/local.py)
    containers/<id>/                 per-container files that outlive a run:
        <id>-json.log                json-file log
        rw/upper, rw/work            the writable overlay layer
        hostname, hosts, resolv.conf files bind-mounted into the container
exec root (runtime state, default /run/dockyard):
    zygote.sock                      the pre-forked spawner
    b/<id>/                          the OCI bundle: config.json, rootfs/ (overlay mount)
    s/<id[:24]>/                     shim state: shim.sock, exit.json, shim.pid, runtime state.
                                     Short on purpose: a unix socket path is capped at 108 bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Paths"]


@dataclass(frozen=True)
class Paths:
    data_root: Path
    exec_root: Path

    def ensure(self) -> None:
        for p in (self.data_root, self.blobs_dir, self.tmp_dir, self.snapshots_dir,
                  self.containers_dir, self.exec_root, self.exec_root / "b", self.exec_root / "s"):
            p.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_root, 0o711)

    # -- metadata and content
    @property
    def db(self) -> Path:
        return self.data_root / "dockyard.db"

    @property
    def blobs_dir(self) -> Path:
        return self.data_root / "blobs" / "sha256"

    def blob(self, digest: str) -> Path:
        algo, _, hexpart = digest.partition(":")
        if algo != "sha256" or len(hexpart) != 64:
            raise ValueError(f"unsupported digest {digest!r}")
        return self.blobs_dir / hexpart

    @property
    def tmp_dir(self) -> Path:
        return self.data_root / "tmp"

    # -- layers
    @property
    def snapshots_dir(self) -> Path:
        return self.data_root / "snapshots"

    def snapshot(self, chain_id: str) -> Path:
        """Directory of one unpacked layer; its contents live in ./fs."""
        return self.snapshots_dir / chain_id.partition(":")[2]

    # -- volumes
    @property
    def volumes_dir(self) -> Path:
        return self.data_root / "volumes"

    # -- containers
    @property
    def containers_dir(self) -> Path:
        return self.data_root / "containers"

    def container(self, cid: str) -> Path:
        return self.containers_dir / cid

    def container_log(self, cid: str) -> Path:
        return self.container(cid) / f"{cid}-json.log"

    def bundle(self, cid: str) -> Path:
        return self.exec_root / "b" / cid

    def shim_dir(self, cid: str) -> Path:
        return self.exec_root / "s" / cid[:24]

    @property
    def zygote_socket(self) -> Path:
        return self.exec_root / "zygote.sock"
