"""The domain's exceptions. The engine raises these; api/errors.py maps them to HTTP.

Nothing here knows about HTTP. Messages are written the way Docker words them,
because clients show them to users verbatim.
"""

__all__ = [
    "DockyardError",
    "NotFound",
    "Conflict",
    "InvalidArgument",
    "InvalidState",
    "NotModified",
    "Forbidden",
    "Unauthorized",
    "SystemError_",
]


class DockyardError(Exception):
    """Base of every error the engine reports to a client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(DockyardError):
    """The named object does not exist (404)."""


class Conflict(DockyardError):
    """The request clashes with existing state: a name in use, an image in use (409)."""


class InvalidArgument(DockyardError):
    """The request itself is malformed or names an invalid value (400)."""


class InvalidState(DockyardError):
    """The object exists but is in the wrong state for this operation (409)."""


class NotModified(DockyardError):
    """Nothing to do: already started / already stopped (304)."""


class Forbidden(DockyardError):
    """The operation is not allowed on this object (403)."""


class Unauthorized(DockyardError):
    """Credentials are missing or wrong (401): a registry login or pull refused them."""


class SystemError_(DockyardError):  # noqa: N801 - avoid shadowing the builtin
    """The daemon failed to do something it should have been able to do (500)."""
