"""`build`: send a context dir as a tar to `POST /build` and show the build's messages.

As the docker CLI's classic builder: .dockerignore is applied here (and the Dockerfile and
.dockerignore always sent), `-` reads a tar context or a lone Dockerfile from stdin, the
build's exit status is the failing RUN's (or 1), `-q` prints only the image ID.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

from dockyard.cli.command import Cli, Command, StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

    from dockyard.cli.flags import Parsed

__all__ = ["BUILD"]


def _pairs(values: list[str], *, env_fallback: bool) -> dict[str, str | None]:
    """`--build-arg K=V`; a bare `K` takes K from the environment, or stays unset (None)."""
    out: dict[str, str | None] = {}
    for item in values:
        key, eq, value = item.partition("=")
        out[key] = value if eq else (os.environ.get(key) if env_fallback else "")
    return out


def _context(cli: Cli, o: Parsed, tmp: IO[bytes]) -> tuple[str, int]:
    """Write the context tar into `tmp`; (the Dockerfile name to ask for, its size)."""
    from dockyard.build.contexttar import make_context_tar
    from dockyard.errors import InvalidArgument

    path = o.args[0]
    dockerfile = o.str("file")
    if path.startswith(("http://", "https://", "git://", "github.com/", "git@")):
        raise StatusError("remote build contexts are not supported by dockyard: clone or download it first", 1)
    if path == "-":
        data = sys.stdin.buffer.read()
        if _looks_like_tar(data):
            tmp.write(data)
            return dockerfile or "Dockerfile", len(data)
        import io
        import tarfile

        with tarfile.open(fileobj=tmp, mode="w") as tf:
            info = tarfile.TarInfo("Dockerfile")
            info.size, info.mode = len(data), 0o644
            tf.addfile(info, io.BytesIO(data))
        return "Dockerfile", tmp.tell()
    try:
        name = make_context_tar(path, dockerfile or None, tmp)
    except InvalidArgument as e:
        raise StatusError(e.message, 1) from None
    return name, tmp.tell()


def _looks_like_tar(data: bytes) -> bool:
    if data[:2] == b"\x1f\x8b" or data[:3] == b"BZh" or data[:6] == b"\xfd7zXZ\x00":
        return True
    return len(data) >= 512 and data[257:262] == b"ustar"


def _build(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.formatting import human_size
    from dockyard.cli.jsonstream import StreamError, display_stream

    quiet = o.bool("quiet")
    image_id: dict[str, str] = {}
    with tempfile.TemporaryFile() as tmp:
        dockerfile, size = _context(cli, o, tmp)
        tmp.seek(0)
        if not quiet:
            cli.out.write(f"Sending build context to Docker daemon  {human_size(size)}\n")
            cli.out.flush()
        params: dict[str, Any] = {
            "t": o.list("tag") or None, "dockerfile": dockerfile, "q": "1" if quiet else None,
            "nocache": "1" if o.bool("no-cache") else None, "rm": "1" if o.bool("rm", True) else "0",
            "forcerm": "1" if o.bool("force-rm") else None, "pull": "1" if o.bool("pull") else None,
            "target": o.str("target") or None, "networkmode": o.str("network") or None,
            "buildargs": json.dumps(_pairs(o.list("build-arg"), env_fallback=True)) if o.list("build-arg") else None,
            "labels": json.dumps({k: v or "" for k, v in _pairs(o.list("label"), env_fallback=False).items()})
            if o.list("label") else None,
            "extrahosts": ",".join(o.list("add-host")) or None,
            "memory": o.get("memory") or None, "shmsize": o.get("shm-size") or None,
            "platform": o.str("platform") or None, "version": "1",
        }
        printed: list[str] = []

        def aux(obj: Any) -> None:
            if isinstance(obj, dict) and obj.get("ID"):
                image_id["id"] = obj["ID"]

        try:
            messages = cli.client.stream_json("POST", "/build", params, body=tmp,
                                              headers={"Content-Type": "application/x-tar"})
            if quiet:
                for m in messages:
                    if isinstance(m, dict) and m.get("stream"):
                        printed.append(m["stream"])
                display_stream([], cli.out)
            else:
                display_stream(messages, cli.out, is_terminal=False, aux=aux)
        except StreamError as e:
            if quiet and printed:
                sys.stderr.write("".join(printed))
            raise StatusError(e.message, e.code or 1) from None
    if quiet:
        cli.out.write("".join(printed))
        cli.out.flush()
    iidfile = o.str("iidfile")
    if iidfile and image_id:
        with open(iidfile, "w") as f:
            f.write(image_id["id"])
    return 0


BUILD = Command(
    "[OPTIONS] PATH | URL | -",
    "Build an image from a Dockerfile",
    _build,
    flags=(
        ("", "add-host", "list", 'Add a custom host-to-IP mapping ("host:ip")'),
        ("", "build-arg", "list", "Set build-time variables"),
        ("", "cache-from", "strings", "Images to consider as cache sources"),
        ("", "cgroup-parent", "string", 'Set the parent cgroup for the "RUN" instructions during build'),
        ("", "compress", "bool", "Compress the build context using gzip"),
        ("", "cpu-period", "int", "Limit the CPU CFS (Completely Fair Scheduler) period"),
        ("", "cpu-quota", "int", "Limit the CPU CFS (Completely Fair Scheduler) quota"),
        ("c", "cpu-shares", "int", "CPU shares (relative weight)"),
        ("", "cpuset-cpus", "string", "CPUs in which to allow execution (0-3, 0,1)"),
        ("", "cpuset-mems", "string", "MEMs in which to allow execution (0-3, 0,1)"),
        ("", "disable-content-trust", "bool", "Skip image verification (default true)"),
        ("f", "file", "string", 'Name of the Dockerfile (Default is "PATH/Dockerfile")'),
        ("", "force-rm", "bool", "Always remove intermediate containers"),
        ("", "iidfile", "string", "Write the image ID to the file"),
        ("", "isolation", "string", "Container isolation technology"),
        ("", "label", "list", "Set metadata for an image"),
        ("m", "memory", "bytes", "Memory limit"),
        ("", "memory-swap", "bytes", "Swap limit equal to memory plus swap: -1 to enable unlimited swap"),
        ("", "network", "string", 'Set the networking mode for the RUN instructions during build (default "default")'),
        ("", "no-cache", "bool", "Do not use cache when building the image"),
        ("", "platform", "string", "Set platform if server is multi-platform capable"),
        ("", "pull", "bool", "Always attempt to pull a newer version of the image"),
        ("q", "quiet", "bool", "Suppress the build output and print image ID on success"),
        ("", "rm", "bool", "Remove intermediate containers after a successful build (default true)"),
        ("", "security-opt", "strings", "Security options"),
        ("", "shm-size", "bytes", 'Size of "/dev/shm"'),
        ("", "squash", "bool", "Squash newly built layers into a single new layer"),
        ("t", "tag", "list", 'Name and optionally a tag in the "name:tag" format'),
        ("", "target", "string", "Set the target build stage to build."),
        ("", "ulimit", "ulimit", "Ulimit options (default [])"),
    ),
    aliases=("image build", "build", "builder build"),
    args=("exact", 1),
)
