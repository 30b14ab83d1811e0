"""`dockyard daemon`: hands its arguments to dockyard.daemon.main (imported only here)."""

from __future__ import annotations

__all__ = ["run_daemon", "DAEMON"]


def run_daemon(argv: list[str]) -> int:
    from dockyard.daemon import main as daemon_main

    code = daemon_main(argv)
    return int(code or 0)


def _handler(cli: object, opts: object) -> int:  # pragma: no cover - main() short-circuits `daemon`
    return run_daemon(list(getattr(opts, "args", [])))


DAEMON = None  # `daemon` never goes through the generic flag parser: the daemon owns its flags
