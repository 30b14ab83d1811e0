"""HTTP status → the domain's typed exceptions (the inverse of api/errors.py).

The daemon's `{"message": ...}` travels unchanged: clients print it verbatim.
"""

from __future__ import annotations

from dockyard import errors as _e

__all__ = ["error_for_status", "status_of"]

_BY_STATUS: dict[int, type[_e.DockyardError]] = {
    304: _e.NotModified,
    400: _e.InvalidArgument,
    401: _e.Unauthorized,
    403: _e.Forbidden,
    404: _e.NotFound,
    409: _e.Conflict,
    500: _e.SystemError_,
}


def error_for_status(status: int, body: bytes, reason: str = "") -> _e.DockyardError:
    """Build the exception for an error response; `.status` keeps the HTTP code."""
    message = ""
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            import json

            doc = json.loads(text)
            if isinstance(doc, dict):
                message = str(doc.get("message") or "")
        except ValueError:
            pass
    if not message:
        message = text or f"{status} {reason}".strip()
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = _e.InvalidArgument if 400 <= status < 500 else _e.SystemError_ if status >= 500 else _e.DockyardError
    err = cls(message)
    err.status = status  # type: ignore[attr-defined]
    return err


def status_of(err: BaseException) -> int:
    """The HTTP status an error came with (0 if it did not come from a response)."""
    return int(getattr(err, "status", 0))
