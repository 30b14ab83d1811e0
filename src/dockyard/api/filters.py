"""The `filters` query parameter: JSON of name → values, in either of Docker's two encodings."""

from __future__ import annotations

import json

from dockyard import errors

__all__ = ["parse_filters"]


def parse_filters(raw: str, allowed: set[str]) -> dict[str, list[str]]:
    """'{"name":{"x":true}}' or '{"name":["x"]}' → {"name": ["x"]}; unknown keys → Docker's 400."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise errors.InvalidArgument(f"invalid filter: {raw}") from None
    if not isinstance(data, dict):
        raise errors.InvalidArgument(f"invalid filter: {raw}")
    out: dict[str, list[str]] = {}
    for key, values in data.items():
        if key not in allowed:
            raise errors.InvalidArgument(f"invalid filter '{key}'")
        if isinstance(values, dict):
            out[key] = [v for v, on in values.items() if on]
        elif isinstance(values, list):
            out[key] = [str(v) for v in values]
        else:
            out[key] = [str(values)]
    return out
