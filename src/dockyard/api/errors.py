"""The single table from domain exceptions to HTTP status codes, and Docker's error body."""

from __future__ import annotations

from dockyard import errors

__all__ = ["status_for", "error_body"]

_STATUS: list[tuple[type[errors.DockyardError], int]] = [
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.InvalidState, 409),
    (errors.InvalidArgument, 400),
    (errors.NotModified, 304),
    (errors.Forbidden, 403),
    (errors.Unauthorized, 401),
    (errors.SystemError_, 500),
]


def status_for(exc: errors.DockyardError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def error_body(exc: errors.DockyardError) -> dict[str, str]:
    return {"message": exc.message}
