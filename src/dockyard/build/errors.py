"""The one error the Dockerfile frontend raises (lexer, parser, instructions)."""

from __future__ import annotations

from dockyard.errors import InvalidArgument

__all__ = ["DockerfileError"]


class DockerfileError(InvalidArgument):
    """A Dockerfile that Docker would refuse, worded as Docker words it.

    `message` (also `str(err)`) is the full text the daemon reports, e.g.
    "dockerfile parse error on line 1: unknown instruction: FROMM (did you mean FROM?)";
    `reason` is the bare cause without Docker's wrapping ("unknown instruction: FROMM ...");
    `line` is the 1-based line the error is located at, 0 when not known.
    """

    def __init__(self, message: str, line: int = 0, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.reason = message if reason is None else reason
