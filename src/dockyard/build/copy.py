"""The file work of COPY and ADD: into a root filesystem, by Docker's classic-builder rules.

Sources are relative to `src_root`: the extracted build context, or (COPY --from)
another stage's or image's root, where absolute sources and symlinks resolve inside
that root. A leading `/` or `./` is dropped; `..` out of the root is refused; wildcards
are Go's filepath.Match against every path of the root. A file is copied as itself
(through a symlink to its target, under the symlink's name); a directory copies its
contents. The destination is made absolute against WORKDIR, then resolved inside the
root filesystem (symlinks followed, never out of it). A file goes into the destination
when it ends in `/` or is an existing directory, else becomes it. Missing parent
directories are made 0755, owned by root, or by the --chown user when a file is copied
(as Docker's copyFile does). Everything copied is owned by 0:0, or --chown's user, or
(COPY --from without --chown) keeps its owner; keeps its mode (set-id bits included)
and mtime (whole seconds, as Docker's tar copy); `chmod` replaces the mode of files and
directories. Hardlinks inside a copied tree stay hardlinks; `security.capability`
survives (a deliberate difference from the classic builder, which drops it, and the
set-id bits, with its final chown; BuildKit keeps both).

ADD also unpacks a local tar (plain/gzip/bzip2/xz, detected by content) into the
destination, keeping the archive's owners and modes (as Docker does), and downloads
http(s) URLs (download.py), which it never unpacks.

Errors use Docker's words ("COPY failed: …", "When using COPY with more than one source
file, …", "unable to convert uid/gid chown string to host mapping: …").
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import stat
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dockyard.build import gopath
from dockyard.build.chown import resolve_chown
from dockyard.build.download import UNNAMED, fetch, is_url, parse_checksum
from dockyard.build.fswalk import walk
from dockyard.build.sourcehash import Forbidden, SourceHasher, full_path, hash_string_slice
from dockyard.build.tarentry import header_for
from dockyard.build.treewriter import EntryError, PathEscape, TreeWriter, client_or_host_error, unpack_tar
from dockyard.errors import InvalidArgument
from dockyard.securejoin import resolve_in_root
from dockyard.store.layers import DecompressingReader

__all__ = [
    "copy_into",
    "source_checksum",
    "resolve_chown",
    "add_into",
    "add_checksum",
    "is_archive",
]

_DIR_OPEN = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class _Source:
    root: str                   # what `path` is relative to
    path: str                   # as Docker keeps it: one leading "/" and "./" dropped
    key: str = ""               # cache key ("file:…", "dir:…"), when asked for
    no_decompress: bool = False  # downloads are never unpacked


# -- COPY ---------------------------------------------------------------------------


def copy_into(
    src_root: Path,
    sources: list[str],
    dest: str,
    rootfs: Path,
    *,
    workdir: str = "/",
    chown: tuple[int, int] | None = None,
    chmod: int | None = None,
    from_context: bool = True,
) -> None:
    """COPY `sources` (relative to `src_root`) to `dest` in the root filesystem `rootfs`."""
    infos = _collect(str(src_root), sources, "COPY", from_context=from_context, keys=False)
    _check_dest(infos, dest, "COPY")
    owner = chown if chown is not None else ((0, 0) if from_context else None)
    _perform(infos, dest, rootfs, workdir=workdir, owner=owner, chmod=chmod, decompress=False)


def source_checksum(src_root: Path, sources: list[str], *, from_context: bool = True) -> str:
    """The cache key of COPY's sources, as `docker history` shows it: file:, dir: or multi:<hex>."""
    return _combined(_collect(str(src_root), sources, "COPY", from_context=from_context, keys=True))


def _combined(infos: list[_Source]) -> str:
    if len(infos) == 1:
        return infos[0].key
    return hash_string_slice("multi", [i.key for i in infos])


def _check_dest(infos: list[_Source], dest: str, cmd: str) -> None:
    if len(infos) > 1 and not dest.endswith("/"):
        raise InvalidArgument(
            f"When using {cmd} with more than one source file, the destination must be a directory and end with a /"
        )


# -- sources -------------------------------------------------------------------------


def _collect(
    root: str,
    sources: list[str],
    cmd: str,
    *,
    from_context: bool,
    keys: bool,
    url_source: Callable[[str], _Source] | None = None,
) -> list[_Source]:
    hasher = SourceHasher(root, archive=from_context) if keys else None
    out: list[_Source] = []
    for orig in sources:
        if is_url(orig):
            if url_source is None:
                raise InvalidArgument(f"{cmd} failed: source can't be a URL for {cmd}")
            out.append(url_source(orig))
            continue
        out.extend(_sources_for(root, orig, cmd, from_context, hasher, wildcards=True))
    if not out:
        raise InvalidArgument(f"{cmd} failed: no source files were specified")
    return out


def _sources_for(
    root: str, orig: str, cmd: str, from_context: bool, hasher: SourceHasher | None, *, wildcards: bool
) -> list[_Source]:
    orig = orig.removeprefix("/").removeprefix("./")
    if wildcards and gopath.has_wildcards(orig):
        return _wildcard_sources(root, orig, cmd, from_context, hasher)
    try:
        full = full_path(root, orig)
    except Forbidden:
        raise InvalidArgument(f"{cmd} failed: forbidden path outside the build context: {orig} ()") from None
    try:
        st = os.stat(full)
    except FileNotFoundError:
        where = "file not found in build context or excluded by .dockerignore: " if from_context else ""
        raise InvalidArgument(f"{cmd} failed: {where}stat {orig}: file does not exist") from None
    except OSError as e:
        raise InvalidArgument(f"{cmd} failed: stat {orig}: {_strerror(e)}") from None
    key = ""
    if hasher is not None:
        try:
            key = hasher.dir_key(orig) if stat.S_ISDIR(st.st_mode) else hasher.file_key(orig)
        except Forbidden:
            raise InvalidArgument(f"{cmd} failed: forbidden path outside the build context: {orig} ()") from None
        except (OSError, ValueError) as e:
            raise InvalidArgument(f"{cmd} failed: failed to create hash for {orig}: {_strerror(e)}") from None
    return [_Source(root, orig, key)]


def _wildcard_sources(
    root: str, pattern: str, cmd: str, from_context: bool, hasher: SourceHasher | None
) -> list[_Source]:
    # Docker walks the whole root; a path deeper than the pattern can reach never matches
    # ("/" only matches "/", except inside a [class]), so the walk stops there.
    depth = pattern.count("/") + 1 + pattern.count("[")
    out: list[_Source] = []
    try:
        for rel, _, _ in walk(root, enter=lambda rel, _st: rel.count("/") + 1 < depth):
            try:
                hit = gopath.match(pattern, rel)
            except gopath.BadPattern:
                hit = False  # Docker ignores the error here
            if hit:
                out.extend(_sources_for(root, rel, cmd, from_context, hasher, wildcards=False))
    except OSError as e:
        raise InvalidArgument(f"{cmd} failed: {_strerror(e)}") from None
    return out


# -- destination ----------------------------------------------------------------------


def _normalize_dest(workdir: str, dest: str) -> str:
    """moby normalizeDest: a relative destination is joined to WORKDIR; a trailing / is kept."""
    if dest.startswith("/"):
        return dest
    joined = gopath.clean("/" + (workdir or "/") + "/" + dest)
    return joined + "/" if dest.endswith("/") and joined != "/" else joined


def _perform(
    infos: list[_Source],
    dest: str,
    rootfs: Path,
    *,
    workdir: str,
    owner: tuple[int, int] | None,
    chmod: int | None,
    decompress: bool,
) -> None:
    dest_path = _normalize_dest(workdir, dest)
    root = os.path.abspath(rootfs)
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for info in infos:
            with _copy_errors():
                _copy_one(info, dest_path, root, root_fd, owner, chmod, decompress)
    finally:
        os.close(root_fd)


def _copy_one(
    info: _Source,
    dest_path: str,
    root: str,
    root_fd: int,
    owner: tuple[int, int] | None,
    chmod: int | None,
    decompress: bool,
) -> None:
    src = resolve_in_root(info.root, gopath.clean("/" + info.path))
    try:
        src_st = os.stat(src)
    except OSError as e:
        raise InvalidArgument(f"failed to copy files: source path not found: stat {info.path}: {_strerror(e)}") from None
    dest_full = resolve_in_root(root, gopath.clean("/" + dest_path))
    parts = _components(root, dest_full)
    if stat.S_ISDIR(src_st.st_mode):
        _copy_dir(src, parts, root_fd, owner, chmod)
    elif decompress and not info.no_decompress and is_archive(src):
        _untar(src, parts, root_fd)
    else:
        if os.path.isdir(dest_full) or dest_path.endswith("/"):
            parts = [*parts, _base(info.path)]
        _copy_file(src, src_st, parts, root_fd, owner, chmod)


def _components(root: str, full: str) -> list[str]:
    rel = os.path.relpath(full, root)
    return [] if rel == "." else rel.split(os.sep)


def _base(path: str) -> str:
    """filepath.Base."""
    trimmed = path.rstrip("/")
    return posixpath.basename(trimmed) if trimmed else "/"


def _open_dirs(root_fd: int, parts: list[str], owner: tuple[int, int] | None) -> tuple[int, bool]:
    """An fd for directory `parts`, creating what is missing (0755, chowned to `owner` if given).

    Returns (fd, whether the last directory was created). The path was resolved already:
    a symlink met here (a race) is refused, not followed.
    """
    fd = os.dup(root_fd)
    created = False
    try:
        for i, part in enumerate(parts):
            created = False
            try:
                nfd = os.open(part, _DIR_OPEN, dir_fd=fd)
            except FileNotFoundError:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                    created = True
                except FileExistsError:
                    pass
                nfd = os.open(part, _DIR_OPEN, dir_fd=fd)
                if created:
                    os.fchmod(nfd, 0o755)  # whatever the umask
                    if owner is not None:
                        os.fchown(nfd, *owner)
            except OSError as e:
                where = "/" + "/".join(parts[: i + 1])
                if e.errno == errno.ELOOP:
                    raise PathEscape(f"mkdir {where}: is a symbolic link") from None
                if e.errno == errno.ENOTDIR:
                    raise NotADirectoryError(errno.ENOTDIR, f"mkdir {where}: not a directory") from None
                raise
            os.close(fd)
            fd = nfd
    except BaseException:
        os.close(fd)
        raise
    return fd, created


def _copy_file(
    src: str, src_st: os.stat_result, parts: list[str], root_fd: int, owner: tuple[int, int] | None, chmod: int | None
) -> None:
    if not parts:
        raise InvalidArgument("failed to copy files: cannot replace the root directory")
    pfd, _ = _open_dirs(root_fd, parts[:-1], owner)
    writer = TreeWriter(pfd, owner=owner, chmod=chmod)
    try:
        _add_from_disk(writer, parts[-1], src, src_st, seen=None)
    finally:
        writer.close()
        os.close(pfd)


def _copy_dir(src: str, parts: list[str], root_fd: int, owner: tuple[int, int] | None, chmod: int | None) -> None:
    # Docker copies the contents through a tar, into a destination it first makes (root's).
    dfd, created = _open_dirs(root_fd, parts, (0, 0))
    writer = TreeWriter(dfd, links="chroot", owner=owner, chmod=chmod)
    try:
        seen: dict[tuple[int, int], str] = {}
        for rel, path, st in walk(src):
            _add_from_disk(writer, rel, path, st, seen=seen)
        writer.finish()
        if created:  # a directory that existed before is not Docker's to chown
            if owner is not None:
                os.fchown(dfd, *owner)
            if chmod is not None:
                os.fchmod(dfd, chmod & 0o7777)
    finally:
        writer.close()
        os.close(dfd)


def _add_from_disk(
    writer: TreeWriter, name: str, path: str, st: os.stat_result, *, seen: dict[tuple[int, int], str] | None
) -> None:
    link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else ""
    try:
        info = header_for(name, st, linkname=link, path=path)
    except ValueError:
        return  # a socket: Docker's tar skips it
    if seen is not None and not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
        first = seen.setdefault((st.st_dev, st.st_ino), name)
        if first != name:
            info.type, info.linkname, info.size = tarfile.LNKTYPE, first, 0
    if not info.isreg():
        writer.add(info)
        return
    fd = os.open(path, _FILE_OPEN)
    try:
        writer.add(info, src_fd=fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _copy_errors() -> Iterator[None]:
    try:
        yield
    except PathEscape as e:
        raise InvalidArgument(f"failed to copy files: {e}") from None
    except tarfile.TarError as e:
        raise InvalidArgument(f"failed to copy files: {e}") from None
    except OSError as e:
        raise client_or_host_error(f"failed to copy files: {_strerror(e)}", e) from None


def _strerror(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        text = e.strerror[:1].lower() + e.strerror[1:]
        return text if e.filename is None else f"{e.filename}: {text}"
    return str(e)


# -- ADD --------------------------------------------------------------------------------


def add_into(
    src_root: Path,
    sources: list[str],
    dest: str,
    rootfs: Path,
    *,
    workdir: str = "/",
    chown: tuple[int, int] | None = None,
    chmod: int | None = None,
    checksum: str | None = None,
    download_dir: Path | None = None,
) -> None:
    """ADD: COPY, plus local tars unpacked into `dest` and http(s) URLs downloaded.

    `download_dir` (private to this ADD) keeps downloads so that add_checksum's fetch is reused.
    """
    _check_checksum(sources, checksum)
    with _download_area(download_dir) as area:
        infos = _collect(
            str(src_root), sources, "ADD", from_context=True, keys=False,
            url_source=lambda url: _url_source(url, area, checksum, dest, keys=False),
        )
        _check_dest(infos, dest, "ADD")
        owner = chown if chown is not None else (0, 0)
        _perform(infos, dest, rootfs, workdir=workdir, owner=owner, chmod=chmod, decompress=True)


def add_checksum(
    src_root: Path,
    sources: list[str],
    *,
    checksum: str | None = None,
    download_dir: Path | None = None,
    dest: str = "",
) -> str:
    """ADD's cache key (a URL is downloaded to compute it, as Docker does; its key has no prefix)."""
    _check_checksum(sources, checksum)
    with _download_area(download_dir) as area:
        return _combined(_collect(
            str(src_root), sources, "ADD", from_context=True, keys=True,
            url_source=lambda url: _url_source(url, area, checksum, dest, keys=True),
        ))


def _check_checksum(sources: list[str], checksum: str | None) -> None:
    if not checksum:
        return
    if len(sources) != 1:
        raise InvalidArgument("checksum can't be specified for multiple sources")
    if not is_url(sources[0]):
        raise InvalidArgument("checksum can't be specified for non-HTTP(S) sources")
    parse_checksum(checksum)


@contextlib.contextmanager
def _download_area(download_dir: Path | None) -> Iterator[str]:
    if download_dir is not None:
        os.makedirs(download_dir, 0o700, exist_ok=True)
        yield os.fspath(download_dir)
        return
    with tempfile.TemporaryDirectory(prefix="dockyard-remote-") as tmp:
        yield tmp


def _url_source(url: str, area: str, checksum: str | None, dest: str, *, keys: bool) -> _Source:
    try:
        got = fetch(url, area, checksum=checksum)
    except InvalidArgument as e:
        raise InvalidArgument(f"ADD failed: {e}") from None
    path = got.filename
    if not path:
        if dest.endswith("/"):
            raise InvalidArgument(f"ADD failed: cannot determine filename for source {url}")
        path = UNNAMED
    key = SourceHasher(got.dir, archive=False).hash(path) if keys else ""
    return _Source(got.dir, path, key, no_decompress=True)


def is_archive(path: str) -> bool:
    """Does the file start with a tar header, once decompressed (gzip, bzip2, xz)?"""
    try:
        with open(os.open(path, _FILE_OPEN), "rb") as f:
            reader = DecompressingReader(f)
            head = b""
            while len(head) < tarfile.BLOCKSIZE:
                chunk = reader.read(tarfile.BLOCKSIZE - len(head))
                if not chunk:
                    return False
                head += chunk
    except (InvalidArgument, OSError):
        return False
    try:
        tarfile.TarInfo.frombuf(head, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def _untar(src: str, parts: list[str], root_fd: int) -> None:
    """Unpack archive `src` into directory `parts` (made 0755 root's if missing), confined to it."""
    dfd, _ = _open_dirs(root_fd, parts, (0, 0))
    writer = TreeWriter(dfd, links="chroot", absolute_names="strip")
    try:
        with open(os.open(src, _FILE_OPEN), "rb") as f:
            unpack_tar(DecompressingReader(f), writer)
    except EntryError as e:
        if isinstance(e.cause, OSError):
            raise OSError(e.cause.errno, str(e)) from None
        raise PathEscape(str(e)) from None
    finally:
        writer.close()
        os.close(dfd)
