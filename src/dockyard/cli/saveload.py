"""`save` and `load`: image archives to and from the daemon, as docker 28.2 does them.

`save` streams `GET /images/get?names=...` to stdout or, with `-o`, to a temp file beside
the target that is renamed into place only when the whole archive arrived (docker's
atomicwriter: an error leaves no file). It refuses to write binary to a terminal.
`load` streams the file or stdin as the body of `POST /images/load` (`quiet=1` unless
stdout is a terminal) and shows the JSON messages that come back.
"""

from __future__ import annotations

import json
import os
import stat
import sys

from dockyard.cli.command import Cli, Command, StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.flags import Parsed

__all__ = ["SAVE", "LOAD", "parse_platform"]

_KNOWN_OS = {"aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux",
             "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos"}
_ARCH = {"i386": ("386", ""), "x86_64": ("amd64", ""), "x86-64": ("amd64", ""), "amd64": ("amd64", ""),
         "aarch64": ("arm64", ""), "arm64": ("arm64", ""), "armhf": ("arm", "v7"), "armel": ("arm", "v6"),
         "arm": ("arm", "v7")}
_KNOWN_ARCH = {"386", "amd64", "arm", "arm64", "ppc64le", "ppc64", "s390x", "riscv64", "mips64le", "loong64"}


def parse_platform(spec: str) -> dict[str, str]:
    """containerd's platforms.Parse, reduced to what a Linux host needs; an OCI platform dict."""
    bad = f'invalid platform: "{spec}"'
    parts = spec.split("/", 3)
    if "*" in spec:
        raise StatusError(f"{bad}: wildcards not yet supported: invalid argument")
    if any(not p for p in parts):
        raise StatusError(f"{bad}: cannot parse platform specifier: invalid argument")
    os_name = parts[0].lower()
    if len(parts) == 1:
        if os_name in _KNOWN_OS:
            from dockyard.engine.images import host_platform

            return {"architecture": host_platform()[1], "os": os_name}
        arch, variant = _ARCH.get(os_name, (os_name, ""))
        if arch not in _KNOWN_ARCH:
            raise StatusError(f"{bad}: unknown operating system or architecture: invalid argument")
        return _platform("linux", arch, variant)
    if len(parts) > 3:
        raise StatusError(f"{bad}: cannot parse platform specifier: invalid argument")
    arch, variant = _ARCH.get(parts[1].lower(), (parts[1].lower(), ""))
    if len(parts) == 3:
        variant = parts[2].lower()
    elif arch == "arm" and variant == "v7":
        variant = ""
    return _platform(os_name, arch, variant)


def _platform(os_name: str, arch: str, variant: str) -> dict[str, str]:
    doc = {"architecture": arch, "os": os_name}   # Go's field order: architecture, os, variant
    if variant:
        doc["variant"] = variant
    return doc


def _platform_param(o: Parsed) -> str | None:
    value = o.str("platform")
    return json.dumps(parse_platform(value), separators=(",", ":")) if value else None


def _check_output(path: str) -> None:
    """atomicwriter's validateDestination, with its messages."""
    parent = os.path.dirname(path)
    if parent and parent not in (".", ".."):
        try:
            if not os.path.isdir(parent):
                os.stat(parent)
                raise StatusError(f"failed to save image: invalid output path: stat {parent}: not a directory")
        except FileNotFoundError:
            raise StatusError(f"failed to save image: invalid output path: stat {parent}: "
                              "no such file or directory") from None
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    problems = [(stat.S_ISDIR, "cannot write to a directory"),
                (stat.S_ISLNK, "cannot write to a symbolic link directly"),
                (stat.S_ISFIFO, "cannot write to a named pipe (FIFO)"),
                (stat.S_ISSOCK, "cannot write to a socket"),
                (stat.S_ISCHR, "cannot write to a character device file"),
                (stat.S_ISBLK, "cannot write to a block device file")]
    for test, message in problems:
        if test(mode):
            raise StatusError(f"failed to save image: {message}")


def _save(cli: Cli, o: Parsed) -> int:
    output = o.str("output")
    params = {"names": o.args, "platform": _platform_param(o)}
    if not output:
        if cli.out.isatty():
            raise StatusError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        cli.out.flush()
        resp = cli.client.stream_raw("GET", "/images/get", params)
        try:
            out = sys.stdout.buffer
            for block in resp.iter_raw():
                out.write(block)
            out.flush()
        finally:
            resp.close()
        return 0
    _check_output(output)
    target = os.path.abspath(output)
    import tempfile

    fd, temp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(target), dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, "wb") as f:
            resp = cli.client.stream_raw("GET", "/images/get", params)
            try:
                for block in resp.iter_raw():
                    f.write(block)
            finally:
                resp.close()
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o600)
        os.rename(temp, target)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return 0


def _load(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.jsonstream import send_tar

    path = o.str("input")
    opened = None
    if not path:
        if sys.stdin.isatty():
            raise StatusError("requested load from stdin, but stdin is empty")
        body = sys.stdin.buffer
    else:
        try:
            opened = open(path, "rb")  # noqa: SIM115 - closed below, after streaming
        except OSError as e:
            raise StatusError(f"open {path}: {(e.strerror or str(e)).lower()}", 1) from None
        body = opened
    terminal = cli.out.isatty()
    params = {"quiet": "1" if o.bool("quiet") or not terminal else "0", "platform": _platform_param(o)}
    try:
        send_tar(cli, "/images/load", params, body, is_terminal=terminal)
    finally:
        if opened is not None:
            opened.close()
    return 0


SAVE = Command(
    "[OPTIONS] IMAGE [IMAGE...]",
    "Save one or more images to a tar archive (streamed to STDOUT by default)",
    _save,
    flags=(
        ("o", "output", "string", "Write to a file, instead of STDOUT"),
        ("", "platform", "string", 'Save only the given platform variant. Formatted as "os[/arch[/variant]]" '
                                   '(e.g., "linux/amd64")'),
    ),
    aliases=("image save", "save"),
    args=("min", 1),
)

LOAD = Command(
    "[OPTIONS]",
    "Load an image from a tar archive or STDIN",
    _load,
    flags=(
        ("i", "input", "string", "Read from tar archive file, instead of STDIN"),
        ("", "platform", "string", 'Load only the given platform variant. Formatted as "os[/arch[/variant]]" '
                                   '(e.g., "linux/amd64")'),
        ("q", "quiet", "bool", "Suppress the load output"),
    ),
    aliases=("image load", "load"),
    args=("none",),
)
