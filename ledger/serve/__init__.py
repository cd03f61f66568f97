"""The ledger as a service: the HTTP API (``govledger serve``), the MCP server (``govledger mcp``).

Both are adapters over the same application service, obtained from
``ledger.bootstrap``: ``Runtime.http_app(settings)`` builds the ASGI application
(``ledger.serve.http``), ``Runtime.mcp_server(settings)`` the MCP server
(``ledger.serve.mcp``). Callers authenticate with API tokens (``_tokens``) kept
as hashes in the store.
"""

from ledger.serve._errors import (
    BodyTooLargeError,
    InternalError,
    NoCheckpointError,
    NotFoundError,
    UnauthorizedError,
    UnknownDecisionError,
    UnsupportedMediaTypeError,
    WrongRoleError,
)
from ledger.serve._service import ServeSettings
from ledger.serve._tokens import ROLES, Identity, Tokens

__all__ = [
    "ROLES",
    "BodyTooLargeError",
    "Identity",
    "InternalError",
    "NoCheckpointError",
    "NotFoundError",
    "ServeSettings",
    "Tokens",
    "UnauthorizedError",
    "UnknownDecisionError",
    "UnsupportedMediaTypeError",
    "WrongRoleError",
]
