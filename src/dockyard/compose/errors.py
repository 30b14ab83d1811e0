"""Compose's failures and the exit codes docker compose v2 gives them.

compose v2 sorts failures into categories with their own exit codes (pkg/compose/metrics.go):
14 no compose file found, 15 a file that does not parse or validate, 16 command-line syntax,
17 a failed build, 18 a failed pull.  Everything else is 1.
"""

from __future__ import annotations

__all__ = ["ComposeError", "ConfigError", "FileNotFound", "BUILD_FAILURE", "PULL_FAILURE", "SYNTAX_FAILURE"]

FILE_NOT_FOUND = 14
PARSE_FAILURE = 15
SYNTAX_FAILURE = 16
BUILD_FAILURE = 17
PULL_FAILURE = 18


class ComposeError(Exception):
    """A failure with compose's message and exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ConfigError(ComposeError):
    """The compose file is not valid (exit 15)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, PARSE_FAILURE)


class FileNotFound(ComposeError):
    """No compose file (exit 14)."""

    def __init__(self, message: str = "no configuration file provided: not found") -> None:
        super().__init__(message, FILE_NOT_FOUND)
