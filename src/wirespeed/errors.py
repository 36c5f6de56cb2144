"""wirespeed's errors: each says what went wrong and what the user can do.

The CLI prints `error: <message>` and, when there is one, `hint: <hint>`,
never a traceback, and exits with `exit_code`:
  0 ok, 1 failure or findings, 2 usage (bad arguments, unknown names).
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class WirespeedError(Exception):
    """An error a user can act on: `message` says what, `hint` says how."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(WirespeedError):
    """The request itself is wrong: a bad name, an unknown interface."""

    exit_code = EXIT_USAGE


class PrivilegeError(WirespeedError):
    """The operation needs capabilities this process does not have."""
