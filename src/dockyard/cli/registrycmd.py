"""`dockyard registry serve`: run the registry server (dockyard.distribution.registry) in the
foreground. It needs no daemon: the server owns its root directory."""

from __future__ import annotations

from dockyard.cli.command import Cli, Command, StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.flags import Parsed

__all__ = ["REGISTRY_SERVE", "REGISTRY_GC"]

DEFAULT_ROOT = "/var/lib/dockyard-registry"


def _serve(cli: Cli, opts: Parsed) -> int:
    from dockyard.distribution.registry.server import RegistryConfig, parse_addr, serve

    addr = opts.str("addr") or "127.0.0.1:5000"
    mode = opts.str("auth") or "token"
    try:
        parse_addr(addr)
    except ValueError as e:
        raise StatusError(str(e), 125) from None
    if mode not in ("token", "basic"):
        raise StatusError(f'invalid --auth {mode!r}: want "token" or "basic"', 125)
    ttl = opts.get("token-ttl")
    config = RegistryConfig(root=opts.str("root") or DEFAULT_ROOT, addr=addr, htpasswd=opts.str("htpasswd"),
                            realm=opts.str("realm"), service=opts.str("service") or "dockyard-registry",
                            auth_mode=mode, token_ttl=int(ttl) if ttl else 300,
                            delete_enabled=not opts.bool("no-delete"))
    try:
        return serve(config)
    except (OSError, ValueError) as e:
        raise StatusError(f"registry: {e}", 1) from None
    except KeyboardInterrupt:
        return 0


def _gc(cli: Cli, opts: Parsed) -> int:
    from dockyard.distribution.registry.gc import RegistryBusy, collect

    try:
        report = collect(opts.str("root") or DEFAULT_ROOT, dry_run=opts.bool("dry-run"),
                         delete_untagged=opts.bool("delete-untagged"),
                         say=lambda line: cli.out.write(line + "\n"))
    except RegistryBusy as e:
        raise StatusError(f"registry: {e}", 1) from None
    except (OSError, ValueError) as e:
        raise StatusError(f"registry: {e}", 1) from None
    if not opts.bool("dry-run"):
        from dockyard.units import human_size

        cli.out.write(f"freed {human_size(report.freed)}\n")
    return 0


REGISTRY_GC = Command(
    "[OPTIONS]", "Delete the blobs no manifest uses (run while the registry is stopped)", _gc,
    flags=(
        ("", "root", "string", f'Storage directory (default "{DEFAULT_ROOT}")'),
        ("d", "dry-run", "bool", "Only say what would be deleted"),
        ("m", "delete-untagged", "bool", "Delete manifests that no tag references, and what only they use"),
    ),
    args=("none",),
)


REGISTRY_SERVE = Command(
    "[OPTIONS]", "Serve the OCI distribution API (a Docker registry) from a local directory", _serve,
    flags=(
        ("", "addr", "string", 'Address to listen on (default "127.0.0.1:5000")'),
        ("", "root", "string", f'Storage directory (default "{DEFAULT_ROOT}")'),
        ("", "htpasswd", "string", "htpasswd file of bcrypt users (htpasswd -B); without it the registry is open"),
        ("", "auth", "string", 'Challenge with "token" (Docker token flow, /token endpoint) or "basic" '
                               '(default "token")'),
        ("", "realm", "string", "Token endpoint URL (token auth) or realm name (basic auth)"),
        ("", "service", "string", 'Service name in tokens (default "dockyard-registry")'),
        ("", "token-ttl", "int", "Token lifetime in seconds (default 300)"),
        ("", "no-delete", "bool", "Refuse DELETE of manifests and blobs"),
    ),
    args=("none",),
)
