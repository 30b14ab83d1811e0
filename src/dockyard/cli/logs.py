"""`logs`: inspect (to learn whether the container has a TTY), then stream `GET .../logs`."""

from __future__ import annotations

import time

from dockyard.cli.command import Cli, Command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.flags import Parsed

__all__ = ["LOGS", "timestamp_param"]


def timestamp_param(value: str, now: float | None = None) -> str:
    """docker's GetTimestamp: a Go duration ("42m") is relative to now; RFC 3339 dates and
    Unix timestamps are absolute.  Returns "seconds.nanoseconds" as the API wants."""
    from dockyard.cli.formatting import parse_duration

    now = time.time() if now is None else now
    try:
        secs = now - parse_duration(value)
        return f"{int(secs)}.{int((secs % 1) * 1e9):09d}"
    except ValueError:
        pass
    try:
        float(value)
        return value  # already a Unix timestamp
    except ValueError:
        pass
    import datetime

    text = value.replace("Z", "+00:00")
    try:
        dt = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f'invalid value for "since": failed to parse value as time or duration: "{value}"') from None
    if dt.tzinfo is None:
        dt = dt.astimezone()
    secs = dt.timestamp()
    return f"{int(secs)}.{int(round((secs % 1) * 1e9)):09d}"


def _logs(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.stdio import write_all
    from dockyard.client.api import quote

    info = cli.client.inspect_container(o.args[0])
    params = {
        "stdout": True,
        "stderr": True,
        "follow": o.bool("follow"),
        "timestamps": o.bool("timestamps"),
        "details": o.bool("details"),
        "tail": o.str("tail", "all") or "all",
        "since": timestamp_param(o.str("since")) if o.str("since") else None,
        "until": timestamp_param(o.str("until")) if o.str("until") else None,
    }
    tty = bool((info.get("Config") or {}).get("Tty"))
    resp = cli.client.stream_raw("GET", f"/containers/{quote(info.get('Id') or o.args[0])}/logs", params)
    cli.out.flush()
    try:
        if tty:
            for block in resp.iter_raw():
                write_all(1, block)
        else:
            from dockyard.client.streams import FrameDecoder

            dec = FrameDecoder()
            for block in resp.iter_raw():
                for kind, payload in dec.feed(block):
                    write_all(2 if kind in (2, 3) else 1, payload)
    finally:
        resp.close()
    return 0


LOGS = Command(
    "[OPTIONS] CONTAINER",
    "Fetch the logs of a container",
    _logs,
    flags=(
        ("", "details", "bool", "Show extra details provided to logs"),
        ("f", "follow", "bool", "Follow log output"),
        ("", "since", "string", 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative '
                                '(e.g. "42m" for 42 minutes)'),
        ("n", "tail", "string", 'Number of lines to show from the end of the logs (default "all")'),
        ("t", "timestamps", "bool", "Show timestamps"),
        ("", "until", "string", 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative '
                                '(e.g. "42m" for 42 minutes)'),
    ),
    aliases=("container logs", "logs"),
    args=("exact", 1),
)
