"""Signal names and numbers as Docker reads them (moby's signal.ParseSignal): `kill -s`, `stop -s`,
`STOPSIGNAL`, `--stop-signal`, `commit -c`."""

from __future__ import annotations

import signal

from dockyard.errors import InvalidArgument

__all__ = ["parse_signal"]


def parse_signal(raw: str | int | None, default: int | None = None) -> int:
    """'SIGTERM', 'TERM', 'term', '15', 'RTMIN+3' → the number; `default` for none given (if one
    is); Docker's "Invalid signal: X" for anything else."""
    if (raw is None or raw == "") and default is not None:
        return default
    text = str(raw).strip()
    try:
        num = int(text)
    except ValueError:
        name = text.upper().removeprefix("SIG")
        if name.startswith(("RTMIN", "RTMAX")):
            base = signal.SIGRTMIN if name.startswith("RTMIN") else signal.SIGRTMAX
            offset = name[5:]
            try:
                return int(base) + (int(offset) if offset else 0)
            except ValueError:
                raise InvalidArgument(f"Invalid signal: {raw}") from None
        sig = getattr(signal, "SIG" + name, None)
        if not isinstance(sig, signal.Signals) or name in ("IGN", "DFL"):
            raise InvalidArgument(f"Invalid signal: {raw}") from None
        return int(sig)
    if not 0 < num <= 64:
        raise InvalidArgument(f"Invalid signal: {raw}")
    return num
