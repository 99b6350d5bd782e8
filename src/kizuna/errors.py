"""One error hierarchy for the whole node. Errors know nothing of HTTP; api/ maps them."""

from __future__ import annotations


class KizunaError(Exception):
    """Root of every error kizuna raises on purpose."""

    def __init__(self, message: str, *, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidInput(KizunaError):
    """The caller sent something malformed: bad STIX, a bad filter, a bad cursor."""


class NotFound(KizunaError):
    """The thing does not exist, or the requester may not know that it does."""


class Unauthenticated(KizunaError):
    """No credentials, or credentials that are not valid (unknown, revoked, expired)."""


class Forbidden(KizunaError):
    """The requester is known but may not do this."""


class Conflict(KizunaError):
    """The request contradicts what is stored (a different object under the same version)."""


class ConfigurationError(KizunaError):
    """The node is set up wrongly (database unreachable, schema out of date)."""
