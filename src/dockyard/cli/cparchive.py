"""The client's half of `docker cp`: go-archive's copy rules (copy.go), on local paths.

The daemon only stats, tars a path, and untars into a directory; which directory, and
under what name an entry lands, the client decides from both sides' stat:

* `copy_info_source_path`: a local source, symlinks resolved up to the last component
  (all of them with -L, renaming the entry back to the name given);
* `copy_info_destination_path`: a local destination, a last symlink followed, a missing
  one fine when its parent directory exists;
* `prepare_archive_copy`: where to extract, and which first path component of the
  archive's entries to rename (`cannot copy directory`, `no such directory`);
* `tar_resource`, `rebase_entries`, `copy_to`: make, rename and unpack the archive.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dockyard import fdtar
from dockyard.build.treewriter import PathEscape, TreeWriter, TypeConflict
from dockyard.store.entryops import ChunkReader, Prepend

__all__ = [
    "CopyInfo", "CopyError", "split_cp_arg", "preserve_trailing", "split_path_dir_entry", "go_base",
    "copy_info_source_path", "copy_info_destination_path", "prepare_archive_copy", "get_rebase_name",
    "tar_resource", "rebase_entries", "copy_to", "resolve_local_path", "ChunkReader", "untar",
]


class CopyError(Exception):
    """A copy the rules refuse, worded as the docker CLI words it."""


@dataclass
class CopyInfo:
    path: str
    exists: bool = False
    is_dir: bool = False
    rebase_name: str = ""


# ---------------------------------------------------------------- Go's path rules

def go_base(path: str) -> str:
    if path == "":
        return "."
    path = path.rstrip("/")
    return "/" if path == "" else path.rsplit("/", 1)[-1]


def go_clean(path: str) -> str:
    if path == "":
        return "."
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def go_join(*parts: str) -> str:
    joined = "/".join(p for p in parts if p)
    return go_clean(joined) if joined else ""


def _dir_of(path: str) -> str:
    """filepath.Dir: everything up to the last separator, cleaned."""
    head = path[:path.rfind("/") + 1] if "/" in path else ""
    return go_clean(head) if head else "."


def has_trailing_separator(path: str) -> bool:
    return path.endswith("/")


def specifies_current_dir(path: str) -> bool:
    return go_base(path) == "."


def asserts_directory(path: str) -> bool:
    return has_trailing_separator(path) or specifies_current_dir(path)


def preserve_trailing(cleaned: str, original: str) -> str:
    """PreserveTrailingDotOrSeparator."""
    if not specifies_current_dir(cleaned) and specifies_current_dir(original):
        if not has_trailing_separator(cleaned):
            cleaned += "/"
        cleaned += "."
    if not has_trailing_separator(cleaned) and has_trailing_separator(original):
        cleaned += "/"
    return cleaned


def split_path_dir_entry(path: str) -> tuple[str, str]:
    """SplitPathDirEntry: (dir, base), a trailing "." kept."""
    cleaned = go_clean(path)
    if specifies_current_dir(path):
        cleaned += "/."
    return _dir_of(cleaned), go_base(cleaned)


def split_cp_arg(arg: str) -> tuple[str, str]:
    """(container, path): `/abs` and `./rel:with:colons` are local."""
    if arg.startswith("/"):
        return "", arg
    container, sep, path = arg.partition(":")
    if not sep or container.startswith("."):
        return "", arg
    return container, path


def resolve_local_path(path: str) -> str:
    return preserve_trailing(os.path.abspath(path), path)


def _eval_symlinks(path: str) -> str:
    if not os.path.lexists(path):
        raise FileNotFoundError(2, "no such file or directory", path)
    return os.path.realpath(path)


# ---------------------------------------------------------------- copy info

def get_rebase_name(path: str, resolved: str) -> tuple[str, str]:
    """GetRebaseName: the resolved path with `path`'s trailing "/." or "/" kept, and the name to
    give the entry if resolving changed its base name."""
    if specifies_current_dir(path) and not specifies_current_dir(resolved):
        resolved += "/."
    if has_trailing_separator(path) and not has_trailing_separator(resolved):
        resolved += "/"
    rebase = go_base(path) if go_base(path) != go_base(resolved) else ""
    return resolved, rebase


def copy_info_source_path(path: str, follow_link: bool) -> CopyInfo:
    if follow_link:
        resolved, rebase = get_rebase_name(path, _eval_symlinks(path))
    else:
        dir_path, base = path[:path.rfind("/") + 1], path[path.rfind("/") + 1:]
        resolved = _eval_symlinks(dir_path or ".").rstrip("/") + "/" + base
        rebase = go_base(path) if has_trailing_separator(path) and go_base(path) != go_base(resolved) else ""
    return CopyInfo(resolved, True, stat.S_ISDIR(os.lstat(resolved).st_mode), rebase)


def copy_info_destination_path(path: str) -> CopyInfo:
    original = path
    try:
        st: os.stat_result | None = os.lstat(path)
    except FileNotFoundError:
        st = None
    n = 0
    while st is not None and stat.S_ISLNK(st.st_mode):
        if n > 10:
            raise CopyError(f"too many symlinks in {original}")
        n += 1
        target = os.readlink(path)
        if not target.startswith("/"):
            target = go_join(split_path_dir_entry(path)[0], target)
        path = target
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
    if st is None:
        parent = split_path_dir_entry(path)[0]
        pst = os.stat(parent)   # FileNotFoundError: the parent must exist
        if not stat.S_ISDIR(pst.st_mode):
            raise CopyError("not a directory")
        return CopyInfo(path)
    return CopyInfo(path, True, stat.S_ISDIR(st.st_mode))


def prepare_archive_copy(src: CopyInfo, dst: CopyInfo) -> tuple[str, tuple[str, str] | None]:
    """PrepareArchiveCopy: (directory to extract to, (old, new) first component to rename or None)."""
    dst_dir, dst_base = split_path_dir_entry(dst.path)
    _, src_base = split_path_dir_entry(src.path)
    if src.rebase_name:
        src_base = src.rebase_name
    if dst.exists and dst.is_dir:
        return dst.path, None
    if dst.exists and src.is_dir:
        raise CopyError("cannot copy directory")
    if dst.exists or src.is_dir:
        return dst_dir, (src_base, dst_base)
    if asserts_directory(dst.path):
        raise CopyError("no such directory")
    return dst_dir, (src_base, dst_base)


# ---------------------------------------------------------------- archives

def tar_resource(path: str, rebase_name: str = "") -> Iterator[bytes]:
    """TarResourceRebase of a local path: its entry (a directory with its contents) named by
    its base name, or `rebase_name`."""
    os.lstat(path)   # a missing source fails here, before anything is sent
    src_dir, base = split_path_dir_entry(path)
    dfd = os.open(src_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        name = base
        if rebase_name:
            name = "" if rebase_name == "/" else rebase_name
        if base == ".":
            yield from fdtar.tar_dir(dfd, root_name=name, child_prefix=name + "/")
            return
        st = os.lstat(base, dir_fd=dfd)
        if stat.S_ISDIR(st.st_mode):
            sub = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
            try:
                yield from fdtar.tar_dir(sub, root_name=name, child_prefix=name + "/")
            finally:
                os.close(sub)
        else:
            yield from fdtar.tar_entry(dfd, base, name)
    finally:
        os.close(dfd)


def _members(stream: Any) -> Iterator[tuple[tarfile.TarInfo, Any]]:
    first = stream.read(tarfile.BLOCKSIZE)
    if not first:
        return
    with tarfile.open(fileobj=Prepend(first, stream), mode="r|", bufsize=1 << 20,  # type: ignore[call-overload]
                      encoding="utf-8", errors="surrogateescape") as tf:
        while (m := tf.next()) is not None:
            tf.members.clear()
            yield m, tf.extractfile(m) if m.isreg() else None


def rebase_entries(stream: Any, old: str, new: str) -> Iterator[bytes]:
    """RebaseArchiveEntries: the first `old` in each name (and hardlink target) becomes `new`."""
    if old == "/":
        old = ""
    for m, data in _members(stream):
        m.name = m.name.replace(old, new, 1)
        if m.islnk():
            m.linkname = m.linkname.replace(old, new, 1)
        yield m.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        if data is not None:
            left = m.size
            while left > 0:
                chunk = data.read(min(left, 1 << 20))
                if not chunk:
                    raise tarfile.ReadError("unexpected end of data")
                left -= len(chunk)
                yield chunk
            if m.size % tarfile.BLOCKSIZE:
                yield b"\0" * (tarfile.BLOCKSIZE - m.size % tarfile.BLOCKSIZE)
    yield b"\0" * (2 * tarfile.BLOCKSIZE)


def untar(stream: Any, dest: str) -> None:
    """Untar with NoLchown and NoOverwriteDirNonDir into the local directory `dest`."""
    root = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    writer = TreeWriter(root, links="relative", absolute_names="strip", owner=(os.getuid(), os.getgid()),
                        no_overwrite_dir_nondir=True)
    shown = dest.rstrip("/") or "/"
    try:
        for m, data in _members(stream):
            name = go_clean(m.name)
            if name == ".." or name.startswith("../"):
                raise CopyError(f'"{name}" is outside of "{shown}"')
            if m.issym() and not m.linkname.startswith("/"):
                target = go_clean(go_join(_dir_of(name), m.linkname))
                if target == ".." or target.startswith("../"):
                    raise CopyError(f'invalid symlink "{go_join(shown, name)}" -> "{m.linkname}"')
            if m.islnk():
                target = go_clean(m.linkname.lstrip("/"))
                if target == ".." or target.startswith("../"):
                    raise CopyError(f'invalid hardlink "{go_join(shown, target)}" -> "{m.linkname}"')
            try:
                writer.add(m, data)
            except TypeConflict as e:
                where = go_join(shown, "/".join(e.parts))
                raise CopyError(f'cannot overwrite directory "{where}" with non-directory "{shown}"' if e.existing_is_dir
                                else f'cannot overwrite non-directory "{where}" with directory "{shown}"') from None
            except PathEscape as e:
                raise CopyError(f"{go_join(shown, name)}: {e}") from None
        writer.finish()
    finally:
        writer.close()
        os.close(root)


def copy_to(stream: Any, src: CopyInfo, dst_path: str) -> None:
    """CopyTo: extract the archive of `src` (read from `stream`) to the local `dst_path`."""
    dst = copy_info_destination_path(dst_path)
    dst_dir, rename = prepare_archive_copy(src, dst)
    if rename is not None:
        stream = ChunkReader(rebase_entries(stream, *rename))
    untar(stream, dst_dir)
