"""Child side of `create`: the container's init, from fork to execve.

The init runs an ordered list of small steps (``INIT_STEPS``), each a function
of the shared ``ChildContext``; the first failure is sent to the parent as an
ERROR message.  After READY it blocks on exec.fifo until `start`, then execve.
The protocol is drawn in ``sync.py``.

Everything here runs in a forked copy of an already-running Python: no imports
happen in the child, no threads exist, and every exit is ``os._exit``.
"""

from __future__ import annotations

import _signal
import fcntl
import gc
import json
import os
import resource
import socket
import stat
import struct
import termios
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn

from dockyard.oci.runtime_spec import DEFAULT_DEVICES, Process, Spec
from dockyard.runtime import capabilities as caps_mod
from dockyard.runtime import rootfs as rfs
from dockyard.runtime import sync
from dockyard.runtime import syscalls as sc
from dockyard.runtime.lookpath import home_for, look_path
from dockyard.runtime.namespaces import NsPlan, join_namespaces, plan_namespaces

__all__ = ["ChildContext", "INIT_STEPS", "EXEC_STEPS", "child_main", "join_cgroup", "warm_up", "template_spec"]

_TIOCSPTLCK = 0x40045431
_TIOCGPTN = 0x80045430
_MAXFD = 0x7FFFFFFF


@dataclass
class ChildContext:
    spec: Spec
    bundle: str
    rootfs: str
    sock: socket.socket
    fifo_fd: int
    ns: NsPlan
    env: dict[str, str] = field(default_factory=dict)
    exe: str = ""
    is_exec: bool = False   # a process joining a running container: no gate, no /dev/console
    in_cgroup: bool = False
    join_fds: list[tuple[int, int]] = field(default_factory=list)   # exec: (namespace fd, CLONE_*)


def _setup_context(sock: socket.socket, msg: sync.Message) -> ChildContext:
    """Build the context from SETUP; its fds are [stdin, stdout, stderr]? then [exec.fifo] (create)
    or namespace fds (exec)."""
    f = msg.fields
    fds = list(msg.fds)
    for fd in fds:
        os.set_inheritable(fd, False)
    if f.get("stdio"):
        _install_stdio((fds[0], fds[1], fds[2]))
        for fd in fds[:3]:
            os.close(fd)
        fds = fds[3:]
    if f["mode"] == "exec":
        return ChildContext(spec=Spec(process=Process.from_dict(f["process"])), bundle=f["bundle"], rootfs="/",
                            sock=sock, fifo_fd=-1, ns=plan_namespaces(()), is_exec=True,
                            join_fds=list(zip(fds, f["ns_flags"], strict=True)))
    with open(os.path.join(f["bundle"], "config.json")) as cfg:
        spec = Spec.from_dict(json.load(cfg))
    return ChildContext(spec=spec, bundle=f["bundle"], rootfs=f["rootfs"], sock=sock, fifo_fd=fds[0],
                        ns=plan_namespaces(spec.linux.namespaces))


def join_cgroup(ctx: ChildContext) -> None:
    """Wait until the parent has moved us into the container's cgroup, then enter its namespace.

    Deferred as late as possible (before a cgroup mount, or before READY) so that the
    parent's slow cgroup.procs writes overlap with our own setup.
    """
    if ctx.in_cgroup:
        return
    msg = sync.recv(ctx.sock)
    if msg.type != sync.GO:
        raise sync.SyncError(f"expected GO, got {msg.type}")
    ctx.in_cgroup = True
    if ctx.ns.unshare_flags & sc.CLONE_NEWCGROUP:
        sc.unshare(sc.CLONE_NEWCGROUP)
    join_namespaces([(p, fl) for p, fl in ctx.ns.joins if fl == sc.CLONE_NEWCGROUP])


# -- helpers ----------------------------------------------------------------------------------

def _reset_signals() -> None:
    """Default dispositions, empty mask: the shim ignores SIGPIPE/SIGHUP and must not pass that on.

    _signal's calls, not signal's: those convert to and from enums each time, ~60 times here, in
    a fresh fork where every page that Python code touches is a copy-on-write fault."""
    _signal.set_wakeup_fd(-1)
    for sig in range(1, _signal.NSIG):
        if sig in (_signal.SIGKILL, _signal.SIGSTOP):
            continue
        try:
            _signal.signal(sig, _signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    _signal.pthread_sigmask(_signal.SIG_SETMASK, ())


def _install_stdio(stdio: tuple[int, int, int]) -> None:
    tmp = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3) for fd in stdio]
    for target, fd in enumerate(tmp):
        os.dup2(fd, target, inheritable=True)
    for fd in tmp:
        os.close(fd)


def _close_fds_except(keep: set[int]) -> None:
    lo = 3
    for fd in sorted(k for k in keep if k >= 3):
        if fd > lo:
            os.closerange(lo, fd)
        lo = fd + 1
    os.closerange(lo, _MAXFD)


# -- init steps, in order ---------------------------------------------------------------------

def step_session(ctx: ChildContext) -> None:
    os.setsid()


def step_rootfs(ctx: ChildContext) -> None:
    if "mount" not in ctx.ns.kinds:
        raise ValueError("the dockyard runtime needs a mount namespace (linux.namespaces: mount)")
    linux = ctx.spec.linux
    rfs.make_private(linux.rootfs_propagation)
    rfs.bind_rootfs(ctx.rootfs)
    rfs.mount_all(ctx.spec.mounts, ctx.rootfs, ctx.bundle, cgroupns="cgroup" in ctx.ns.kinds,
                  before_cgroup_mount=lambda: join_cgroup(ctx))
    rfs.create_devices(DEFAULT_DEVICES + linux.devices, ctx.rootfs)
    rfs.setup_dev_symlinks(ctx.rootfs)
    os.makedirs(rfs.secure_join(ctx.rootfs, ctx.spec.process.cwd), 0o755, exist_ok=True)


def step_pivot(ctx: ChildContext) -> None:
    rfs.pivot_root(ctx.rootfs)


def step_console(ctx: ChildContext) -> None:
    """Allocate the pty inside the container's devpts, hand the master to the parent."""
    proc = ctx.spec.process
    if not proc.terminal:
        return
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
    num = struct.unpack("I", fcntl.ioctl(master, _TIOCGPTN, b"\0\0\0\0"))[0]
    slave_path = f"/dev/pts/{num}"
    if not ctx.is_exec:
        rfs.mount_console(slave_path)
    sync.send(ctx.sock, sync.CONSOLE, fds=[master], slave=slave_path)
    os.close(master)
    slave = os.open(slave_path, os.O_RDWR)
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    if proc.console_size and proc.console_size.width and proc.console_size.height:
        fcntl.ioctl(slave, termios.TIOCSWINSZ,
                    struct.pack("HHHH", proc.console_size.height, proc.console_size.width, 0, 0))
    for target in (0, 1, 2):
        os.dup2(slave, target, inheritable=True)
    if slave > 2:
        os.close(slave)


def step_readonly_root(ctx: ChildContext) -> None:
    if ctx.spec.root.readonly:
        rfs.remount_root_readonly()


def step_hostname(ctx: ChildContext) -> None:
    for value, setter in ((ctx.spec.hostname, sc.sethostname), (ctx.spec.domainname, sc.setdomainname)):
        if value:
            if "uts" not in ctx.ns.kinds:
                raise ValueError("unable to set hostname without a private UTS namespace")
            setter(value)


def step_sysctl(ctx: ChildContext) -> None:
    for key, value in ctx.spec.linux.sysctl.items():
        path = "/proc/sys/" + key.replace(".", "/")
        with open(path, "w") as f:
            f.write(value)


def step_paths(ctx: ChildContext) -> None:
    rfs.readonly_paths(ctx.spec.linux.readonly_paths)
    rfs.mask_paths(ctx.spec.linux.masked_paths)


def step_limits(ctx: ChildContext) -> None:
    proc = ctx.spec.process
    for rl in proc.rlimits:
        kind = getattr(resource, rl.type.upper(), None)
        if not isinstance(kind, int):
            raise ValueError(f"unknown rlimit {rl.type!r}")
        # Without CAP_SYS_RESOURCE a hard limit can only go down: clamp, never fail.
        _, cur_hard = resource.getrlimit(kind)
        hard = rl.hard if cur_hard == resource.RLIM_INFINITY else min(rl.hard, cur_hard)
        resource.setrlimit(kind, (min(rl.soft, hard), hard))
    if proc.oom_score_adj is not None:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(proc.oom_score_adj))


def step_stdio_owner(ctx: ChildContext) -> None:
    """Give stdio to the container user (so /dev/stdout can be reopened), as runc does."""
    u = ctx.spec.process.user
    for fd in (0, 1, 2):
        try:
            st = os.fstat(fd)
        except OSError:
            continue
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3):
            continue
        if st.st_uid == u.uid and st.st_gid == u.gid:
            continue
        try:
            os.fchown(fd, u.uid, u.gid)
        except OSError:
            pass


def step_user(ctx: ChildContext) -> None:
    proc = ctx.spec.process
    caps = proc.capabilities
    last = sc.cap_last_cap()
    if caps is not None:
        caps_mod.drop_bounding(caps, last)
    caps_mod.keep_caps(True)
    os.setgroups(list(proc.user.additional_gids))
    os.setresgid(proc.user.gid, proc.user.gid, proc.user.gid)
    os.setresuid(proc.user.uid, proc.user.uid, proc.user.uid)
    caps_mod.keep_caps(False)
    if caps is not None:
        caps_mod.apply_caps(caps, last)
    if proc.no_new_privileges:
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)


def step_cwd(ctx: ChildContext) -> None:
    cwd = ctx.spec.process.cwd
    try:
        os.chdir(cwd)
    except OSError as e:
        raise ValueError(f'chdir to cwd ("{cwd}") set in config.json failed: '
                         f'{sync.go_strerror(e.errno or 13)}') from None


def step_exec_lookup(ctx: ChildContext) -> None:
    env: dict[str, str] = {}
    for item in ctx.spec.process.env:
        k, _, v = item.partition("=")
        env[k] = v
    if "HOME" not in env:
        env["HOME"] = home_for(ctx.spec.process.user.uid)
    ctx.env = env
    if not ctx.spec.process.args:
        raise ValueError("args must not be empty")
    ctx.exe = look_path(ctx.spec.process.args[0], env.get("PATH", ""))
    umask = ctx.spec.process.user.umask
    os.umask(0o022 if umask is None else umask)


Step = Callable[[ChildContext], None]
INIT_STEPS: tuple[Step, ...] = (
    step_session, step_rootfs, step_pivot, step_console, step_readonly_root, step_hostname,
    step_sysctl, step_paths, step_limits, step_stdio_owner, join_cgroup, step_user, step_cwd,
    step_exec_lookup,
)
# A process joining a running container (exec): its namespaces already hold the rootfs.
EXEC_STEPS: tuple[Step, ...] = (
    step_session, step_console, step_limits, step_stdio_owner, step_user, step_cwd, step_exec_lookup,
)


def _init_main(ctx: ChildContext, steps: tuple[Step, ...]) -> NoReturn:
    try:
        os.umask(0)
        for step in steps:
            step(ctx)
        sync.send(ctx.sock, sync.READY)
        ctx.sock.close()
    except BaseException as e:  # noqa: BLE001 - everything becomes an ERROR message
        try:
            sync.send(ctx.sock, sync.ERROR, message=sync.describe(e))
        finally:
            os._exit(1)
    try:
        if ctx.fifo_fd >= 0:
            # The gate: opening a FIFO for writing blocks until `start` opens it for reading.
            gate = os.open(f"/proc/self/fd/{ctx.fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
            os.write(gate, b"0")
        os.execve(ctx.exe, list(ctx.spec.process.args), ctx.env)
    except BaseException as e:  # noqa: BLE001
        try:
            why = sync.go_strerror(e.errno) if isinstance(e, OSError) and e.errno else sync.describe(e)
            os.write(2, f"exec {ctx.exe}: {why}\n".encode())
        finally:
            os._exit(1)
    os._exit(1)


def template_spec() -> Spec:
    """A Docker-like spec, for warming up code paths (never run)."""
    from dockyard.oci.runtime_spec import (
        DEFAULT_CAPABILITIES,
        DEFAULT_MASKED_PATHS,
        DEFAULT_READONLY_PATHS,
        Capabilities,
        Linux,
        Namespace,
        default_mounts,
    )
    caps = Capabilities.docker(DEFAULT_CAPABILITIES)
    return Spec(process=Process(args=("sh",), env=("PATH=/bin", "HOSTNAME=x"), capabilities=caps),
                mounts=tuple(default_mounts()),
                linux=Linux(namespaces=tuple(Namespace(t) for t in ("pid", "ipc", "uts", "mount", "network")),
                            cgroups_path="/x/y", resources={"memory": {"limit": 1 << 30}},
                            masked_paths=DEFAULT_MASKED_PATHS, readonly_paths=DEFAULT_READONLY_PATHS))


def warm_up() -> None:
    """Run the pure parts of a create once, ahead of need: the pages they touch become private
    now (copy-on-write after fork costs a fault each), not on a container's critical path."""
    spec = Spec.from_dict(json.loads(json.dumps(template_spec().to_dict())))
    plan_namespaces(spec.linux.namespaces)
    for m in spec.mounts:
        rfs.parse_mount_options(m.options)
    sync.describe(OSError(2, "No such file or directory", "/x"))
    sc.cap_last_cap()   # cached: every child inherits the answer


def child_main(sock: socket.socket, warm: bool = False) -> NoReturn:
    """The forked child, already in its pid namespace (possibly forked ahead of need: ``warm``).

    Prepares itself, waits for SETUP, enters its namespaces (all but the cgroup
    one, which ``join_cgroup`` handles) and runs the create or exec steps.
    """
    try:
        gc.disable()  # a collection in the child would touch (and copy) every page of the parent's heap
        _reset_signals()
        _close_fds_except({sock.fileno()})
        if warm:
            warm_up()
        msg = sync.recv(sock)
        if msg.type != sync.SETUP:
            raise sync.SyncError(f"expected SETUP, got {msg.type}")
        if "nice" in msg.fields:  # a prefork waited at low priority
            os.setpriority(os.PRIO_PROCESS, 0, int(msg.fields["nice"]))
        ctx = _setup_context(sock, msg)
        if ctx.is_exec:
            join_cgroup(ctx)
            for fd, flag in ctx.join_fds:
                sc.setns(fd, flag)
                os.close(fd)
            steps = EXEC_STEPS
        else:
            join_namespaces([(p, fl) for p, fl in ctx.ns.joins if fl != sc.CLONE_NEWCGROUP])
            sc.unshare(ctx.ns.unshare_flags & ~sc.CLONE_NEWCGROUP)
            steps = INIT_STEPS
    except BaseException as e:  # noqa: BLE001
        try:
            sync.send(sock, sync.ERROR, message=sync.describe(e))
        finally:
            os._exit(1)
    _init_main(ctx, steps)
