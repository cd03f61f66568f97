"""The service's own errors (HTTP and MCP), in the ledger's taxonomy: a code and a builtin kind."""

from __future__ import annotations

from ledger.errors import LedgerError

__all__ = [
    "BodyTooLargeError",
    "InternalError",
    "NoCheckpointError",
    "NotFoundError",
    "UnauthorizedError",
    "UnknownDecisionError",
    "UnsupportedMediaTypeError",
    "WrongRoleError",
]


class UnauthorizedError(LedgerError, PermissionError):
    """
    No bearer token, or one the store does not know (never issued, or revoked).
    """

    code = "unauthorized"
    meaning = (
        "no bearer token, or a token that is unknown or revoked (HTTP 401); nothing was stored"
    )


class WrongRoleError(LedgerError, PermissionError):
    """
    The token is valid, but its role may not do this.
    """

    code = "forbidden_role"
    meaning = "the token's role may not use this endpoint or tool (HTTP 403); nothing was stored"


class UnknownDecisionError(LedgerError, LookupError):
    """
    No decision with this decision_id is stored.
    """

    code = "unknown_decision"
    meaning = "no decision with this decision_id is stored (HTTP 404)"


class NoCheckpointError(LedgerError, LookupError):
    """
    The store has no signed checkpoint yet.
    """

    code = "no_checkpoint"
    meaning = "the store has no signed checkpoint yet: run govledger seal, or serve with a key"


class BodyTooLargeError(LedgerError, ValueError):
    """
    The request body (or what it inflates to) is over the server's limit.
    """

    code = "body_too_large"
    meaning = "the request body, or what a gzip body inflates to, is over the limit (HTTP 413)"


class UnsupportedMediaTypeError(LedgerError, ValueError):
    """
    The body's Content-Type or Content-Encoding is not one the endpoint reads.
    """

    code = "unsupported_media_type"
    meaning = "the Content-Type or Content-Encoding is not one the endpoint reads (HTTP 415)"


class NotFoundError(LedgerError, LookupError):
    """
    No such endpoint, or not with this method.
    """

    code = "not_found"
    meaning = "no such endpoint, or not with this method (HTTP 404 or 405)"


class InternalError(LedgerError, RuntimeError):
    """
    The server failed in a way it did not expect; the details stay in its own log.
    """

    code = "internal_error"
    meaning = "the server failed unexpectedly (HTTP 500); nothing in the request was acknowledged"
