"""compose's log view: each container's lines prefixed `web-1  | `, followed in threads."""

from __future__ import annotations

import sys
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.client.api import Client

__all__ = ["prefix_for", "stream_logs"]

_lock = threading.Lock()


def prefix_for(c: dict[str, Any]) -> str:
    labels = c.get("Labels") or {}
    svc, num = labels.get("com.docker.compose.service"), labels.get("com.docker.compose.container-number")
    return f"{svc}-{num}" if svc and num else (c.get("Names") or ["?"])[0].lstrip("/")


def _one(client: Client, c: dict[str, Any], prefix: str, follow: bool, tail: str) -> None:
    from dockyard.client.streams import FrameDecoder

    resp = client.stream_raw("GET", f"/containers/{c['Id']}/logs",
                             {"stdout": True, "stderr": True, "follow": follow, "tail": tail})
    dec = FrameDecoder()
    pending = b""
    try:
        for block in resp.iter_raw():
            for _kind, payload in dec.feed(block):
                pending += payload
                *lines, pending = pending.split(b"\n")
                if lines:
                    text = "".join(f"{prefix} | {ln.decode('utf-8', 'replace')}\n" for ln in lines)
                    with _lock:
                        sys.stdout.write(text)
                        sys.stdout.flush()
        if pending:
            with _lock:
                sys.stdout.write(f"{prefix} | {pending.decode('utf-8', 'replace')}\n")
    finally:
        resp.close()


def stream_logs(client: Client, containers: list[dict[str, Any]], follow: bool, tail: str = "all") -> None:
    width = max((len(prefix_for(c)) for c in containers), default=0)
    threads = [threading.Thread(target=_one, args=(client, c, prefix_for(c).ljust(width + 1), follow, tail),
                                daemon=True) for c in containers]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)
