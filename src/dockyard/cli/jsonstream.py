"""Show a JSON progress stream (pull, import, bootstrap, load) like docker's jsonmessage.

Not on a terminal, lines with a progress bar are skipped and the rest printed one per
line ("<id>: <status>").  On a terminal each layer id keeps its own line, redrawn in place.
An `error`/`errorDetail` message ends the stream with that message as the error.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, TextIO

__all__ = ["StreamError", "display_stream", "progress_bar", "send_tar"]


class StreamError(Exception):
    """An error message inside a JSON stream (the HTTP status was 200)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def progress_bar(detail: dict[str, Any], width: int = 110) -> str:
    """jsonmessage.JSONProgress.String(): "[=====>     ]  1.2MB/4.3MB"."""
    from dockyard.cli.formatting import human_size

    current = int(detail.get("current") or 0)
    total = int(detail.get("total") or 0)
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return human_size(current)
    numbers = f"{human_size(current)}/{human_size(total)}"
    bar = ""
    if current <= total:
        pct = current * 100 // total
        filled = pct // 2
        bar = "[" + "=" * filled + (">" if filled < 50 else "") + " " * (50 - filled - (1 if filled < 50 else 0)) + "] "
    return f"{bar} {numbers}" if bar else numbers


def display_stream(
    messages: Iterable[dict[str, Any]],
    out: TextIO,
    is_terminal: bool = False,
    aux: Callable[[Any], None] | None = None,
) -> None:
    """Print messages as docker does; raise StreamError on an error message."""
    lines: dict[str, int] = {}  # layer id → line index from the top of our block
    count = 0
    for m in messages:
        if not isinstance(m, dict):
            continue
        if m.get("errorDetail") or m.get("error"):
            detail = m.get("errorDetail") or {}
            raise StreamError(detail.get("message") or m.get("error") or "unknown error", int(detail.get("code") or 0))
        if "aux" in m and aux is not None:
            aux(m["aux"])
            continue
        if "aux" in m and not any(k in m for k in ("status", "stream", "id")):
            continue
        detail = m.get("progressDetail") or {}
        bar = progress_bar(detail) if detail else ""
        if not is_terminal and bar:
            continue
        ident = m.get("id") or ""
        status = m.get("status") or ""
        text = ""
        if ident:
            text += f"{ident}: "
        if m.get("from"):
            text += f"(from {m['from']}) "
        if m.get("stream"):
            out.write(text + m["stream"])
            out.flush()
            continue
        if is_terminal and bar:
            text += f"{status} {bar}"
        elif m.get("progress"):
            text += f"{status} {m['progress']}"
        else:
            text += status
        if is_terminal and ident:
            # one line per layer: move up to its line, redraw, come back down
            if ident not in lines:
                lines[ident] = count
                count += 1
                out.write(text + "\n")
            else:
                up = count - lines[ident]
                out.write(f"\x1b[{up}A\r\x1b[2K{text}\x1b[{up}B\r")
        else:
            out.write(text + "\n")
            if is_terminal:
                count += 1
        out.flush()


def send_tar(cli: Any, path: str, params: dict[str, Any], body: Any, *, is_terminal: bool = False) -> None:
    """POST `body` (a tar, streamed) to `path` and show the JSON messages that come back, as
    `import` and `load` do; an error message inside the stream exits 1 with its text."""
    from dockyard.cli.command import StatusError

    try:
        messages = cli.client.stream_json("POST", path, params, body=body,
                                          headers={"Content-Type": "application/x-tar"} if body else None)
        display_stream(messages, cli.out, is_terminal=is_terminal)
    except StreamError as e:
        raise StatusError(e.message, 1) from None
