"""Errors that end a whole request (not one row): the runner decides what they mean for the job.

Messages are written for the user and never contain a token: the transport redacts before raising.
"""

from __future__ import annotations


class ApiError(Exception):
    """The platform answered with an error for the whole request.

    `messages` are the platform's own words (Kit `errors[]`, HighLevel `message`), shown verbatim.
    """

    def __init__(self, status: int, messages: list[str], *, hint: str = "") -> None:
        self.status = status
        self.messages = messages
        self.hint = hint
        text = "; ".join(messages) or f"HTTP {status}"
        super().__init__(f"{text} (HTTP {status})" + (f". {hint}" if hint else ""))


class AuthenticationError(ApiError):
    """401/403: the credential is wrong, expired, or has no access. Ends the job; retrying will not help."""

    def __init__(self, status: int, messages: list[str], *, expired: bool = False, hint: str = "") -> None:
        self.expired = expired
        super().__init__(status, messages, hint=hint)


class NotFoundError(ApiError):
    """404 on a whole-request level (the tag, form or location does not exist)."""


class GaveUpError(Exception):
    """The request could not be completed after the bounded number of retries.

    Raised for 429 storms, 5xx bursts, timeouts and dropped connections; `reason` says which,
    in the user's words, and becomes the reason of every row the request carried.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ConnectionFailedError(GaveUpError):
    """The platform could not be reached at all (DNS, refused connection, TLS)."""
