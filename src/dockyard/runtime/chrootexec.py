"""Run a command chrooted into a root filesystem that is being built (apt-get in an image).

    python -m dockyard.runtime.chrootexec ROOT [--bind[-ro] SRC:DST]... [--tmpfs DST]... [--env K=V]... -- ARGV...

The child unshares mount, PID, IPC and UTS namespaces, so every mount it makes
(/proc, a fresh /dev, tmpfs on /tmp and /run, the binds) vanishes when it exits
and nothing it starts outlives it; the network is the host's (apt needs the
mirror). The command gets only the --env variables. /dev is a small tmpfs with null, zero, full, random, urandom and tty:
nothing on the host's /dev can be written through it. Mount targets are resolved
inside ROOT (symlinks cannot lead out) and must exist, except below a tmpfs made
here, where they are created.

The parent side, `run_in_chroot`, starts this as a new interpreter (once per image
build, so its start-up time does not matter) and hands each output line to a callback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence

__all__ = ["run_in_chroot", "run_lines", "main"]

_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9),
            ("tty", 5, 0))
_DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
              ("stderr", "/proc/self/fd/2"))


def run_lines(cmd: Sequence[str], *, env: Mapping[str, str] | None = None,
              on_line: Callable[[str], None] | None = None, timeout: float = 3600) -> tuple[int, list[str]]:
    """Run `cmd`, stdout and stderr merged, each line to `on_line`: (exit status, the last 40 lines)."""
    tail: list[str] = []
    proc = subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=None if env is None else dict(env), close_fds=True)
    assert proc.stdout is not None
    try:
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            tail = (tail + [line])[-40:]
            if on_line is not None and line:
                on_line(line)
        return proc.wait(timeout=timeout), tail
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def run_in_chroot(root: str, argv: Sequence[str], *, binds: Sequence[tuple[str, str]] = (),
                  ro_binds: Sequence[tuple[str, str]] = (), tmpfs: Sequence[str] = ("/tmp", "/run"), env: Mapping[str, str] | None = None,
                  on_line: Callable[[str], None] | None = None, timeout: float = 3600) -> tuple[int, list[str]]:
    """Run `argv` inside `root` with only `env` as its environment: (exit status, the last 40 lines)."""
    cmd = [sys.executable, "-m", "dockyard.runtime.chrootexec", os.path.abspath(root)]
    for src, dst in binds:
        cmd += ["--bind", f"{src}:{dst}"]
    for src, dst in ro_binds:
        cmd += ["--bind-ro", f"{src}:{dst}"]
    for dst in tmpfs:
        cmd += ["--tmpfs", dst]
    for key, value in (env or {}).items():
        cmd += ["--env", f"{key}={value}"]
    return run_lines([*cmd, "--", *argv], on_line=on_line, timeout=timeout)


class _Args:
    def __init__(self, root: str, argv: list[str]) -> None:
        self.root, self.argv = root, argv
        self.binds: list[tuple[str, str, bool]] = []   # (source, target, read-only)
        self.tmpfs: list[str] = []
        self.env: dict[str, str] = {}


def _parse(args: list[str]) -> _Args:
    if "--" not in args or args.index("--") == 0:
        raise SystemExit("usage: chrootexec ROOT [--bind[-ro] SRC:DST]... [--tmpfs DST]... [--env K=V]... -- ARGV...")
    split = args.index("--")
    head = args[:split]
    out = _Args(head[0], args[split + 1:])
    i = 1
    while i < len(head):
        flag, value = head[i], head[i + 1] if i + 1 < len(head) else ""
        if flag in ("--bind", "--bind-ro"):
            src, _, dst = value.rpartition(":")
            out.binds.append((src, dst, flag == "--bind-ro"))
        elif flag == "--tmpfs":
            out.tmpfs.append(value)
        elif flag == "--env":
            key, _, val = value.partition("=")
            out.env[key] = val
        else:
            raise SystemExit(f"chrootexec: unknown flag {flag}")
        i += 2
    if not out.argv:
        raise SystemExit("chrootexec: no command")
    return out


def _setup(root: str, binds: list[tuple[str, str, bool]], tmpfs: list[str]) -> None:
    from dockyard.runtime import syscalls as sc
    from dockyard.securejoin import resolve_in_root

    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    sc.mount("proc", resolve_in_root(root, "/proc"), "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    dev = resolve_in_root(root, "/dev")
    sc.mount("tmpfs", dev, "tmpfs", sc.MS_NOSUID, "mode=755,size=1m")
    for name, major, minor in _DEVICES:
        os.mknod(os.path.join(dev, name), 0o020666, os.makedev(major, minor))
        os.chmod(os.path.join(dev, name), 0o666)
    for name, target in _DEV_LINKS:
        os.symlink(target, os.path.join(dev, name))
    os.mkdir(os.path.join(dev, "pts"), 0o755)
    os.mkdir(os.path.join(dev, "shm"))
    os.chmod(os.path.join(dev, "shm"), 0o1777)
    made = []
    for dst in tmpfs:
        path = resolve_in_root(root, dst)
        sc.mount("tmpfs", path, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, "mode=1777" if dst == "/tmp" else "mode=755")
        made.append(path.rstrip("/") + "/")
    for src, dst, readonly in binds:
        path = resolve_in_root(root, dst)
        if any(path.startswith(m) for m in made) and not os.path.exists(path):
            if os.path.isdir(src):
                os.makedirs(path)
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "w").close()
        if not os.path.exists(path):
            raise SystemExit(f"chrootexec: mount target {dst} does not exist in {root}")
        sc.mount(src, path, None, sc.MS_BIND | sc.MS_REC)
        if readonly:   # a host file (resolv.conf) no maintainer script may change
            sc.mount(None, path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC)


def main(args: list[str] | None = None) -> int:
    from dockyard.runtime import syscalls as sc

    a = _parse(sys.argv[1:] if args is None else args)
    sc.unshare(sc.CLONE_NEWNS | sc.CLONE_NEWPID | sc.CLONE_NEWIPC | sc.CLONE_NEWUTS)
    pid = os.fork()   # the first child is PID 1 of the new PID namespace: its exit ends every process there
    if pid == 0:
        try:
            sc.prctl(sc.PR_SET_PDEATHSIG, 9)
            _setup(a.root, a.binds, a.tmpfs)
            os.chroot(a.root)
            os.chdir("/")
            os.execvpe(a.argv[0], a.argv, a.env)
        except SystemExit as e:
            print(e, file=sys.stderr, flush=True)
        except OSError as e:
            print(f"chrootexec: {a.argv[0]}: {e}", file=sys.stderr, flush=True)
        os._exit(127)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    sys.exit(main())
