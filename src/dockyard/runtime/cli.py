"""`dockyard-runtime`: the built-in runtime behind runc's command line.

    dockyard-runtime [--root DIR] [--log FILE] [--log-format text|json] COMMAND
      create [--bundle B] [--pid-file F] [--console-socket S] ID
      start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID
      pause ID | resume ID | run [--bundle B] [--pid-file F] ID
      exec [--process P.json | -t -e K=V --cwd D -u UID[:GID]] [-d] [--pid-file F]
           [--console-socket S] ID [ARGS...]

Errors go to stderr and, with --log, to that file (JSON lines as runc writes
them with --log-format json), so a caller that drives runc (a shim, containerd)
finds the reason for a failed create in the same place.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import signal
import socket
import sys
from collections.abc import Sequence

from dockyard.errors import DockyardError
from dockyard.runtime import lifecycle, spawn

__all__ = ["main", "DEFAULT_ROOT"]

DEFAULT_ROOT = "/run/dockyard-runtime"
PROG = "dockyard-runtime"


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="OCI runtime (runc-compatible command line)")
    p.add_argument("--root", default=DEFAULT_ROOT, help="directory for container state")
    p.add_argument("--log", default="", help="file to log errors to")
    p.add_argument("--log-format", default="text", choices=("text", "json"))
    p.add_argument("--debug", action="store_true")
    p.add_argument("--systemd-cgroup", action="store_true", help="accepted for compatibility; ignored")
    sub = p.add_subparsers(dest="command", required=True)

    def with_bundle(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--bundle", "-b", default=".")
        cmd.add_argument("--pid-file", default="")
        cmd.add_argument("--console-socket", default="")
        cmd.add_argument("--no-pivot", action="store_true")
        cmd.add_argument("--no-new-keyring", action="store_true")
        cmd.add_argument("--preserve-fds", type=int, default=0)
        cmd.add_argument("id")

    with_bundle(sub.add_parser("create", help="create a container"))
    run = sub.add_parser("run", help="create, start and wait for a container")
    with_bundle(run)
    run.add_argument("--detach", "-d", action="store_true")
    for name in ("start", "state", "pause", "resume"):
        sub.add_parser(name).add_argument("id")
    kill = sub.add_parser("kill", help="send a signal to the container's init")
    kill.add_argument("--all", "-a", action="store_true")
    kill.add_argument("id")
    kill.add_argument("signal", nargs="?", default="SIGTERM")
    ex = sub.add_parser("exec", help="run a process in a running container")
    ex.add_argument("--process", "-p", default="")
    ex.add_argument("--console-socket", default="")
    ex.add_argument("--pid-file", default="")
    ex.add_argument("--detach", "-d", action="store_true")
    ex.add_argument("--tty", "-t", action="store_true")
    ex.add_argument("--cwd", default="")
    ex.add_argument("--env", "-e", action="append", default=[])
    ex.add_argument("--user", "-u", default="")
    ex.add_argument("--cap", "-c", action="append", default=[])
    ex.add_argument("--no-new-privs", action="store_true")
    ex.add_argument("id")
    ex.add_argument("args", nargs=argparse.REMAINDER)
    delete = sub.add_parser("delete", help="delete a stopped container")
    delete.add_argument("--force", "-f", action="store_true")
    delete.add_argument("id")
    return p


def _send_console(path: str, fd: int) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        socket.send_fds(s, [b"/dev/ptmx"], [fd])


def _check_terminal(bundle: str, console_socket: str, detach: bool) -> None:
    terminal = spawn.load_spec(os.path.abspath(bundle)).process.terminal
    if terminal and not console_socket:
        raise UsageError("cannot allocate tty if runc will detach without setting console socket")
    if console_socket and not terminal:
        raise UsageError("cannot use console socket if runc will not detach or allocate tty")


def _create(args: argparse.Namespace, detach: bool = True) -> spawn.Created:
    _check_terminal(args.bundle, args.console_socket, detach)
    created = spawn.create(args.id, args.bundle, args.root, pid_file=args.pid_file or None)
    if created.console_fd is not None:
        try:
            _send_console(args.console_socket, created.console_fd)
        except OSError as e:
            lifecycle.delete(args.root, args.id, force=True)
            raise UsageError(f"send console to {args.console_socket}: {e.strerror}") from None
        finally:
            os.close(created.console_fd)
    return created


def _run(args: argparse.Namespace) -> int:
    created = _create(args)
    lifecycle.start(args.root, args.id)
    if args.detach:
        return 0
    code = _wait_child(created.pid)
    lifecycle.delete(args.root, args.id, force=True)
    return code


def _exec_process(args: argparse.Namespace) -> dict:
    """--process, or the container's own process with the flags applied (as runc builds it)."""
    if args.process:
        with open(args.process) as f:
            return json.load(f)
    st, _ = lifecycle.observe(args.root, args.id)
    proc = spawn.load_spec(st.bundle).process.to_dict()
    if not args.args:
        raise UsageError("exec needs a command or --process")
    proc["args"] = list(args.args)
    proc["terminal"] = args.tty
    proc["env"] = proc.get("env", []) + list(args.env)
    if args.cwd:
        proc["cwd"] = args.cwd
    if args.user:
        uid, _, gid = args.user.partition(":")
        proc["user"] = {"uid": int(uid), "gid": int(gid or 0)}
    if args.cap:
        caps = proc.setdefault("capabilities", {})
        for kind in ("bounding", "effective", "permitted"):
            caps[kind] = list(dict.fromkeys(caps.get(kind, []) + args.cap))
    if args.no_new_privs:
        proc["noNewPrivileges"] = True
    return proc


def _exec(args: argparse.Namespace) -> int:
    from dockyard.runtime.exec import exec_process
    proc = _exec_process(args)
    if proc.get("terminal") and not args.console_socket:
        raise UsageError("cannot allocate tty if runc will detach without setting console socket")
    created = exec_process(args.root, args.id, proc)
    if created.console_fd is not None:
        try:
            _send_console(args.console_socket, created.console_fd)
        finally:
            os.close(created.console_fd)
    if args.pid_file:
        spawn._write_pid_file(args.pid_file, created.pid)
    if args.detach:
        return 0
    return _wait_child(created.pid)


def _wait_child(pid: int) -> int:
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, lambda s, _f: os.kill(pid, s))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _state(args: argparse.Namespace) -> int:
    st, status = lifecycle.observe(args.root, args.id)
    doc = lifecycle.oci_state(args.root, args.id).to_dict()
    doc.pop("annotations", None)
    doc.update(rootfs=st.rootfs, created=st.created, owner="")
    if st.annotations:
        doc["annotations"] = st.annotations
    print(json.dumps(doc, indent="  "))
    return 0


def _dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "create":
        _create(args)
    elif cmd == "run":
        return _run(args)
    elif cmd == "exec":
        return _exec(args)
    elif cmd == "start":
        lifecycle.start(args.root, args.id)
    elif cmd == "state":
        return _state(args)
    elif cmd == "kill":
        lifecycle.kill(args.root, args.id, lifecycle.parse_signal(args.signal), all_=args.all)
    elif cmd == "delete":
        lifecycle.delete(args.root, args.id, force=args.force)
    elif cmd in ("pause", "resume"):
        lifecycle.set_paused(args.root, args.id, cmd == "pause")
    return 0


def _log_error(args: argparse.Namespace, message: str) -> None:
    print(message, file=sys.stderr)
    if not args.log:
        return
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    line = (json.dumps({"level": "error", "msg": message, "time": now}) if args.log_format == "json"
            else f'time="{now}" level=error msg={json.dumps(message)}')
    with contextlib.suppress(OSError), open(args.log, "a") as f:
        f.write(line + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except spawn.CreateError as e:
        what = "exec failed" if args.command == "exec" else f"{PROG} {args.command} failed"
        _log_error(args, f"{what}: unable to start container process: {e.message}")
    except (DockyardError, UsageError, OSError, ValueError) as e:
        _log_error(args, f"{PROG} {args.command} failed: {e}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
