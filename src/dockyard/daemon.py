"""`dockyard daemon`: the composition root. Read flags, build every service once, serve.

The zygote is forked first, while this process is still single-threaded: every
container's shim is forked from it later, so no thread state ever leaks into
a container and no interpreter is started per container.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from pathlib import Path

from dockyard.gostrconv import parse_bool

__all__ = ["main", "parse_args"]

DEFAULT_HOST = "unix:///run/dockyard/dockyard.sock"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="dockyard daemon", description="Run the dockyard engine daemon.")
    p.add_argument("-H", "--host", action="append", default=[], help="unix socket to listen on")
    p.add_argument("--data-root", default="/var/lib/dockyard")
    p.add_argument("--exec-root", default="/run/dockyard")
    p.add_argument("-p", "--pidfile", default="")
    p.add_argument("-l", "--log-level", default="info", choices=["debug", "info", "warn", "error", "fatal"])
    p.add_argument("-D", "--debug", action="store_true")
    p.add_argument("-b", "--bridge", default="dockyard0", help="the default bridge's name")
    p.add_argument("--bip", default="", help="the default bridge's address, CIDR")
    p.add_argument("--icc", default="true", type=parse_bool,
                   help="let containers on the default bridge talk to each other (--icc=false: no)")
    p.add_argument("--default-address-pool", action="append", default=[],
                   help="where user networks get subnets: base=10.10.0.0/16,size=24 (repeatable)")
    p.add_argument("--insecure-registry", action="append", default=[],
                   help="a registry (host[:port] or CIDR) to reach over plain HTTP (repeatable)")
    p.add_argument("--cgroup-parent", default="dockyard")
    p.add_argument("--default-runtime", default="dockyard")
    p.add_argument("--live-restore", action="store_true",
                   help="keep containers running when the daemon shuts down")
    p.add_argument("--shutdown-timeout", type=int, default=15)
    p.add_argument("--bootstrap-cache", default="",
                   help="where `bootstrap` keeps built base layers and downloaded packages "
                        "(default: DATA-ROOT/bootstrap-cache); several daemons may share one")
    p.add_argument("--bootstrap-mirror", default="",
                   help="the Debian mirror `bootstrap debian` uses (default: the one apt on this host uses)")
    return p.parse_args(argv)


def _socket_path(host: str) -> str:
    if host.startswith("unix://"):
        return host[len("unix://"):]
    if host.startswith("/"):
        return host
    raise SystemExit(f"dockyard daemon: unsupported host {host!r}: only unix:///path sockets")


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _write_pidfile(path: str) -> None:
    if not path:
        return
    with contextlib.suppress(FileNotFoundError, ValueError):
        old = int(Path(path).read_text().strip())
        if old != os.getpid() and os.path.exists(f"/proc/{old}"):
            raise SystemExit(f"dockyard daemon: pid file found, ensure dockyard is not running or delete {path}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(f"{os.getpid()}\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if os.geteuid() != 0:
        print("dockyard daemon: must run as root", file=sys.stderr)
        return 1
    hosts = args.host or [DEFAULT_HOST]
    socket_path = _socket_path(hosts[0])
    _write_pidfile(args.pidfile)

    # Fork the zygote before anything can start a thread, and before this process imports what
    # only the daemon needs (asyncio, the engine): every shim is a fork of the zygote and shares
    # its pages, so what it holds costs every container (asyncio alone is ~4 MiB).
    from dockyard.shim.zygote import Zygote
    zygote = Zygote.start()
    import asyncio
    import logging
    level = logging.DEBUG if args.debug else getattr(logging, args.log_level.upper().replace("FATAL", "CRITICAL"),
                                                     logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_serve(args, socket_path, zygote))
    finally:
        zygote.close()
        if args.pidfile:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(args.pidfile)


async def _serve(args: argparse.Namespace, socket_path: str, zygote) -> int:
    import asyncio
    import logging

    from dockyard.api.handlers.archive import ArchiveHandlers
    from dockyard.api.handlers.build import BuildHandlers
    from dockyard.api.handlers.containers import ContainerHandlers
    from dockyard.api.handlers.disk import DiskHandlers
    from dockyard.api.handlers.events import EventHandlers
    from dockyard.api.handlers.exec import ExecHandlers
    from dockyard.api.handlers.images import ImageHandlers
    from dockyard.api.handlers.networks import NetworkHandlers
    from dockyard.api.handlers.observe import ObserveHandlers
    from dockyard.api.handlers.system import SystemHandlers
    from dockyard.api.handlers.volumes import VolumeHandlers
    from dockyard.api.routes import (
        add_archive_routes,
        add_build_routes,
        add_disk_routes,
        add_network_routes,
        add_observe_routes,
        add_volume_routes,
        build_router,
    )
    from dockyard.api.server import ApiServer
    from dockyard.build.executor import Builder
    from dockyard.engine.archive import ArchiveService
    from dockyard.engine.bootstrap_service import Bootstrapper
    from dockyard.engine.container_mounts import MountManager
    from dockyard.engine.container_store import ContainerStore
    from dockyard.engine.containerfs import sweep_views
    from dockyard.engine.containers import ContainerService
    from dockyard.engine.control import ContainerControl, observe_paused
    from dockyard.engine.dns_records import NetworkRecords
    from dockyard.engine.endpoints import EndpointManager
    from dockyard.engine.events import EventBus
    from dockyard.engine.exec import ExecService
    from dockyard.engine.images import ImageService
    from dockyard.engine.network_store import NetworkStore
    from dockyard.engine.networks import NetworkService
    from dockyard.engine.stats import StatsService
    from dockyard.engine.volume_store import VolumeStore
    from dockyard.engine.volumes import VolumeService
    from dockyard.network.dns import EmbeddedDns, host_nameservers
    from dockyard.network.firewall import Firewall, table_name
    from dockyard.network.ipam import DEFAULT_POOLS, parse_pools
    from dockyard.runtime.cgroups import detect_mode
    from dockyard.store.db import Database
    from dockyard.store.paths import Paths
    from dockyard.volume.local import LocalDriver

    log = logging.getLogger("dockyard.daemon")
    paths = Paths(Path(args.data_root).resolve(), Path(args.exec_root).resolve())
    paths.ensure()
    sweep_views(paths)   # container views a crash left mounted
    db = Database(paths.db)
    images = ImageService(paths, db)
    images.insecure_registries = tuple(args.insecure_registry)
    images.recover()   # finish or roll back what a crash interrupted
    bootstrap_cache = Path(args.bootstrap_cache).resolve() if args.bootstrap_cache \
        else paths.data_root / "bootstrap-cache"
    events = EventBus()
    images.emit = events
    container_store = ContainerStore(db)
    networks = NetworkService(NetworkStore(db), container_store, Firewall(table_name(args.bridge)),
                              owner=args.bridge, default_bridge=args.bridge, bip=args.bip, icc=args.icc,
                              pools=parse_pools(args.default_address_pool) or DEFAULT_POOLS, emit=events)
    dns = EmbeddedDns(NetworkRecords(networks), lambda: host_nameservers(_read("/etc/resolv.conf")))
    endpoints = EndpointManager(networks, dns, paths.container, emit=events)
    volumes = VolumeService(VolumeStore(db), LocalDriver(paths.volumes_dir), container_store, emit=events)
    volumes.restore()
    mounts = MountManager(volumes, paths, container_store, images.rootfs_lowerdirs, emit=events)
    containers = ContainerService(paths, container_store, images, zygote, mounts=mounts,
                                  cgroup_parent=args.cgroup_parent, default_runtime=args.default_runtime,
                                  on_event=events, networking=endpoints)
    endpoints.bind(containers._lock, container_store.save)
    execs = ExecService(containers)
    await networks.start()
    await containers.restore()
    await endpoints.restore([c for c in container_store.all() if c.state.status.is_running])
    await networks.apply_firewall()
    await observe_paused(containers)
    router = build_router(SystemHandlers(containers, images, detect_mode()),
                          ContainerHandlers(containers, images),
                          ImageHandlers(images, containers,
                                        Bootstrapper(images, bootstrap_cache, mirror=args.bootstrap_mirror)),
                          ExecHandlers(execs))
    add_observe_routes(router, EventHandlers(events),
                       ObserveHandlers(ContainerControl(containers), StatsService(containers)))
    builder = Builder(paths, images, containers, emit=events)
    builder.recover()
    add_build_routes(router, BuildHandlers(builder))
    add_network_routes(router, NetworkHandlers(networks, endpoints))
    add_volume_routes(router, VolumeHandlers(volumes))
    add_archive_routes(router, ArchiveHandlers(ArchiveService(containers)))
    add_disk_routes(router, DiskHandlers(containers, images, volumes, builder))
    server = ApiServer(router, socket_path)
    await server.start()
    log.info("dockyard daemon listening on unix://%s (data root %s)", socket_path, paths.data_root)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await server.close()
    await containers.shutdown(live_restore=args.live_restore, timeout=args.shutdown_timeout)
    await execs.shutdown()
    await dns.close()
    await endpoints.settle()
    await networks.shutdown(live_restore=args.live_restore)
    db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
