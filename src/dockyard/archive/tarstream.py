"""Streaming tar, both ways, for image archives: never a whole archive in memory or on disk.

Reading (`iter_entries`): one pass over a `.read(n)` stream. Each regular file comes with
a reader limited to its size; whatever the consumer leaves unread is skipped before the
next header. PAX (`path`, `linkpath`, `size`) and GNU long names are understood; sparse
files and other exotic types are refused, as an image archive never holds them.

Writing (`header`, `padding`, `END`): ustar headers as Go's archive/tar writes them for
`docker save` (uid/gid 0, no user names), the file data padded to 512 bytes, and two
zero blocks at the end (no padding to a 10 KiB record, as Go does).
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidArgument

__all__ = ["TarEntry", "iter_entries", "header", "padding", "END", "BLOCK"]

BLOCK = 512
END = b"\0" * (2 * BLOCK)
_META_MAX = 1 << 20          # a PAX or GNU long-name record larger than this is not a real one
_FILE_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)


@dataclass
class TarEntry:
    name: str               # as written, PAX/GNU long names applied
    type: bytes             # tarfile's type constants: REGTYPE, DIRTYPE, SYMTYPE, LNKTYPE, ...
    size: int
    linkname: str
    mode: int
    reader: EntryReader | None = None   # regular files only
    info: tarfile.TarInfo | None = None  # the whole header, PAX records applied (pax_headers kept)

    @property
    def is_file(self) -> bool:
        return self.type in _FILE_TYPES

    @property
    def is_dir(self) -> bool:
        return self.type == tarfile.DIRTYPE

    @property
    def is_symlink(self) -> bool:
        return self.type == tarfile.SYMTYPE

    @property
    def is_hardlink(self) -> bool:
        return self.type == tarfile.LNKTYPE


class EntryReader:
    """`.read(n)` of one entry's data, no further than its size."""

    def __init__(self, source: Any, size: int) -> None:
        self._source = source
        self.remaining = size

    def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes (fewer if the source gives fewer); all that is left for n < 0."""
        if n is None or n < 0:
            parts = []
            while self.remaining > 0:
                parts.append(self.read(self.remaining))
            return b"".join(parts)
        if self.remaining <= 0:
            return b""
        data = self._source.read(min(n, self.remaining))
        if not data:
            raise InvalidArgument("invalid tar archive: unexpected EOF")
        self.remaining -= len(data)
        return data

    def skip(self) -> None:
        while self.remaining > 0:
            self.read(1 << 20)


def _read_exact(source: Any, n: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < n:
        data = source.read(n - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def _pax_records(data: bytes) -> dict[str, str]:
    """`"%d %s=%s\\n"` records; the length counts the whole record."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError:
            raise InvalidArgument("invalid tar archive: invalid PAX record") from None
        record = data[space + 1:pos + length]
        if length <= 0 or not record.endswith(b"\n") or b"=" not in record:
            raise InvalidArgument("invalid tar archive: invalid PAX record")
        key, _, value = record[:-1].partition(b"=")
        out[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def iter_entries(source: Any) -> Iterator[TarEntry]:
    """The entries of the tar read from `source`, in order. Raises InvalidArgument on a
    malformed archive; an archive cut short inside an entry is malformed too."""
    pax: dict[str, str] = {}
    global_pax: dict[str, str] = {}
    long_name = long_link = None
    seen_any = False
    while True:
        block = _read_exact(source, BLOCK)
        if not block or block == b"\0" * BLOCK:
            if not block and not seen_any:
                raise InvalidArgument("invalid tar archive: empty input")
            return  # end of archive (a missing second zero block is tolerated, as Go does)
        if len(block) < BLOCK:
            raise InvalidArgument("invalid tar archive: unexpected EOF")
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as e:
            raise InvalidArgument(f"invalid tar archive: {e}") from None
        seen_any = True
        kind = info.type
        if kind in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
            if info.size > _META_MAX:
                raise InvalidArgument("invalid tar archive: header record too large")
            data = _read_exact(source, info.size)
            _read_exact(source, -info.size % BLOCK)
            if len(data) < info.size:
                raise InvalidArgument("invalid tar archive: unexpected EOF")
            if kind == tarfile.XHDTYPE:
                pax.update(_pax_records(data))
            elif kind == tarfile.XGLTYPE:
                global_pax.update(_pax_records(data))
            elif kind == tarfile.GNUTYPE_LONGNAME:
                long_name = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            else:
                long_link = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            continue
        if kind == tarfile.GNUTYPE_SPARSE:
            raise InvalidArgument(f'invalid tar entry "{info.name}": sparse files are not supported')
        attrs = {**global_pax, **pax}
        name = attrs.get("path") or long_name or info.name
        linkname = attrs.get("linkpath") or long_link or info.linkname
        size = info.size
        if "size" in attrs:
            try:
                size = int(attrs["size"])
            except ValueError:
                raise InvalidArgument("invalid tar archive: invalid PAX size") from None
        pax, long_name, long_link = {}, None, None
        has_data = kind not in (tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE, tarfile.CHRTYPE,
                                tarfile.BLKTYPE, tarfile.FIFOTYPE)
        info.name, info.linkname, info.size = name, linkname, size if has_data else 0
        if attrs:
            _apply_pax(info, attrs)
        entry = TarEntry(name, kind, info.size, linkname, info.mode, info=info)
        reader = EntryReader(source, entry.size)
        if entry.is_file:
            entry.reader = reader
        yield entry
        reader.skip()
        if entry.size % BLOCK:
            pad = _read_exact(source, BLOCK - entry.size % BLOCK)
            if len(pad) < BLOCK - entry.size % BLOCK:
                raise InvalidArgument("invalid tar archive: unexpected EOF")


def _apply_pax(info: tarfile.TarInfo, attrs: dict[str, str]) -> None:
    """The PAX records tarfile applies to a header: owner ids and names, mtime; all of them
    stay in `pax_headers` (xattrs, atime)."""
    info.pax_headers = dict(attrs)
    for key, field_name in (("uid", "uid"), ("gid", "gid")):
        if key in attrs:
            try:
                setattr(info, field_name, int(attrs[key]))
            except ValueError:
                raise InvalidArgument(f"invalid tar archive: invalid PAX {key}") from None
    for key in ("uname", "gname"):
        if key in attrs:
            setattr(info, key, attrs[key])
    if "mtime" in attrs:
        try:
            info.mtime = float(attrs["mtime"])
        except ValueError:
            raise InvalidArgument("invalid tar archive: invalid PAX mtime") from None


def header(name: str, size: int = 0, *, mtime: int = 0, directory: bool = False, mode: int | None = None) -> bytes:
    """A ustar header block (PAX when a name needs it) for a file or directory owned by root."""
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = mode if mode is not None else (0o755 if directory else 0o644)
    info.size = 0 if directory else size
    info.mtime = mtime
    info.uname = info.gname = ""
    fmt = tarfile.USTAR_FORMAT if len(name.encode()) <= 100 else tarfile.PAX_FORMAT
    return info.tobuf(format=fmt, encoding="utf-8", errors="surrogateescape")


def padding(size: int) -> bytes:
    """The zeros that follow `size` bytes of file data."""
    return b"\0" * (-size % BLOCK)
