"""A built-in `busybox` image made from the host's static busybox (Debian busybox-static).

There is no registry to pull from, so this is the base image that always exists.
One layer: /bin/busybox, a symlink in /bin for every applet (`sh`, `ls`, ...),
/etc/passwd and /etc/group (root, nobody 65534), /tmp (1777), /root, /proc,
/sys, /dev, /home, /var; `CMD ["sh"]`.

The tar is generated as a stream with fixed metadata (uid 0, fixed mtimes,
sorted entries) and the config has a fixed `created`, so the image ID depends
only on the busybox binary. A second bootstrap hashes the stream without
unpacking it, sees the image exists, and only (re)tags it.
"""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass

from dockyard.engine.images import ImageService, host_platform
from dockyard.engine.images_model import ImageRecord
from dockyard.errors import SystemError_
from dockyard.oci.image_spec import HistoryItem, ImageConfig, RunConfig, rfc3339
from dockyard.store.entryops import ChunkReader

__all__ = ["bootstrap_busybox", "busybox_layer", "busybox_config", "TarStream", "BUSYBOX"]

BUSYBOX = "/bin/busybox"
MTIME = 1704067200  # 2024-01-01T00:00:00Z: fixed, so the same binary gives the same image
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_CHUNK = 1 << 16

PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
GROUP = b"root:x:0:\nnobody:x:65534:\n"


@dataclass(frozen=True)
class _Entry:
    name: str
    kind: bytes                 # tarfile.DIRTYPE / REGTYPE / SYMTYPE
    mode: int
    data: bytes | None = None   # small files
    source: str | None = None   # a host file streamed in
    linkname: str = ""


def _header(e: _Entry, size: int) -> bytes:
    info = tarfile.TarInfo(e.name)
    info.type = e.kind
    info.mode = e.mode
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = MTIME
    info.size = size
    info.linkname = e.linkname
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="strict")


def _tar_chunks(entries: list[_Entry]) -> Iterator[bytes]:
    for e in entries:
        if e.source is not None:
            size = os.stat(e.source).st_size
            yield _header(e, size)
            sent = 0
            with open(e.source, "rb") as f:
                while sent < size and (chunk := f.read(min(_CHUNK, size - sent))):
                    sent += len(chunk)
                    yield chunk
            if sent != size:
                raise SystemError_(f"{e.source} changed while it was being read")
        elif e.data is not None:
            yield _header(e, len(e.data))
            yield e.data
            size = len(e.data)
        else:
            yield _header(e, 0)
            size = 0
        if size % tarfile.BLOCKSIZE:
            yield b"\0" * (tarfile.BLOCKSIZE - size % tarfile.BLOCKSIZE)
    yield b"\0" * (2 * tarfile.BLOCKSIZE)


TarStream = ChunkReader   # a file-like view of the layer's chunks


def _check_busybox(path: str) -> None:
    if not os.path.isfile(path):
        raise SystemError_(f"cannot make the busybox image: {path} not found (install the busybox-static package)")
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            raise SystemError_(f"cannot make the busybox image: {path} is not a 64-bit ELF executable")
        endian = "<" if head[5] == 1 else ">"
        phoff, = struct.unpack(endian + "Q", head[32:40])
        phentsize, phnum = struct.unpack(endian + "HH", head[54:58])
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            p_type, = struct.unpack(endian + "I", f.read(4))
            if p_type == 3:  # PT_INTERP: needs a dynamic loader the image does not have
                raise SystemError_(f"cannot make the busybox image: {path} is dynamically linked "
                                   "(install the busybox-static package)")


def _busybox_info(path: str) -> tuple[list[str], str]:
    try:
        listing = subprocess.run([path, "--list"], capture_output=True, check=True, timeout=30).stdout
        helptext = subprocess.run([path, "--help"], capture_output=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise SystemError_(f"cannot make the busybox image: running {path} failed: {e}") from None
    applets = sorted({a for a in listing.decode().split() if a and "/" not in a and a != "busybox"})
    first = helptext.decode(errors="replace").splitlines()[0] if helptext else "BusyBox"
    version = first.split(" multi-call")[0].strip()
    return applets, version


def busybox_layer(path: str = BUSYBOX) -> tuple[TarStream, str]:
    """(a fresh stream of the layer tar, the busybox version line)."""
    _check_busybox(path)
    applets, version = _busybox_info(path)
    d, r, s = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE
    entries = [_Entry("bin", d, 0o755), _Entry("bin/busybox", r, 0o755, source=path)]
    entries += [_Entry(f"bin/{a}", s, 0o777, linkname="busybox") for a in applets]
    entries += [
        _Entry("dev", d, 0o755), _Entry("etc", d, 0o755),
        _Entry("etc/group", r, 0o644, data=GROUP), _Entry("etc/passwd", r, 0o644, data=PASSWD),
        _Entry("home", d, 0o755), _Entry("proc", d, 0o755), _Entry("root", d, 0o700),
        _Entry("sys", d, 0o755), _Entry("tmp", d, 0o1777), _Entry("usr", d, 0o755),
        _Entry("var", d, 0o755), _Entry("var/www", d, 0o755),
    ]
    return TarStream(_tar_chunks(entries)), version


def busybox_config(diff_id: str, version: str) -> ImageConfig:
    created = rfc3339(MTIME * 1_000_000_000)
    os_name, arch = host_platform()
    return ImageConfig(
        diff_ids=(diff_id,),
        config=RunConfig(env=(PATH_ENV,), cmd=("sh",)),
        history=(HistoryItem(created=created, created_by=f"dockyard bootstrap: {version}"),
                 HistoryItem(created=created, created_by='CMD ["sh"]', empty_layer=True)),
        created=created, architecture=arch, os=os_name)


def bootstrap_busybox(images: ImageService, tag: str = "busybox:latest", *, path: str = BUSYBOX) -> ImageRecord:
    """Create (or find) the busybox image and point `tag` at it."""
    stream, version = busybox_layer(path)
    digest = hashlib.sha256()
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    config = busybox_config("sha256:" + digest.hexdigest(), version)
    image_id = "sha256:" + hashlib.sha256(config.to_bytes()).hexdigest()
    if images.db.query_one("SELECT 1 FROM images WHERE id = ?", (image_id,)):
        images.add_tags(image_id, [tag])
        return images.resolve(image_id)
    stream, _ = busybox_layer(path)
    layer = images.ingest_layer(stream)
    return images.store_image(config, [layer], [tag])
