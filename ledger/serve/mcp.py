"""The MCP server: four tools for agents, over stdio (default) or streamable HTTP.

Built on the official SDK's low-level ``Server`` (``mcp.server.lowlevel``), not its
decorator API (``MCPServer``): that one derives each tool's input from a Python
signature and validates it with pydantic, so a bad argument would come back in
pydantic's words rather than the ledger's codes, and an argument the tool does not
take (say ``user_id``) would be dropped without a word. Here each tool declares its
JSON Schema, receives the arguments exactly as sent, refuses unknown ones
(``invalid_schema``, naming the field) and lets the ledger judge the rest: a refusal
is a tool result with ``isError`` and ``{"error": {code, field, rule, message}}``.

No tool records a human decision, and no tool records an AutoSignature on its own:
an agent must never approve its own gate. ``evaluate_gate`` runs the gate table, which
the ledger applies itself (see its description); nothing an agent sends can name a
user or create a 003 or 005 directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import anyio
import orjson
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp_types import (
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    Tool,
    ToolAnnotations,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from ledger.bootstrap import Runtime
from ledger.errors import InvalidSchemaError, LedgerError
from ledger.serve._errors import InternalError, NotFoundError, UnauthorizedError, WrongRoleError
from ledger.serve._service import ServeSettings, Service, gate_arguments, outcome_json
from ledger.serve._tokens import ROLES, Identity

__all__ = ["TOOLS", "GovernanceMCP", "create_server"]

_log = logging.getLogger("govledger.mcp")
_IDENTITY: Final = "govledger.identity"
#: The person who started ``govledger mcp`` on stdio: trusted as the CLI is (it can read the
#: store's files anyway), and still unable to record a human decision through any tool.
_LOCAL: Final = Identity("local", "orchestrator")
_READERS: Final = 4
_MAX_PAGE: Final = 1000

_TEXT = {"type": "string", "minLength": 1, "maxLength": 1024}

EVALUATE_GATE = """\
Ask the governance ledger to decide a gate, and get the outcome it recorded.

The ledger, not the agent, decides: it applies the gate automation table of the Handshake \
spec (2.6.8.12.2) to gate_type, automation_level and confidence, and records the sequence \
in one durable transaction:
- where the table allows automatic approval (and the proposed decision is approve), the \
ledger records the decision, its own AutoSignature and the applied decision (status \
auto_approved). That signature is the ledger's decision under the table, never the agent's;
- where a human is needed, it records the decision and a request for human intervention \
(status awaiting_human). Only a human with an approver token (HTTP) or at the ledger's \
terminal (govledger decide) can answer; no MCP tool can;
- under LOCKED where a human would be needed, it records a reject/defer and halts \
(status halted): stop the workflow;
- a reject or defer the table lets the model make is recorded and applied.
This tool never records a human decision and takes no user. Pass your own decision_id to \
make retries safe: the same call again returns the recorded outcome (replayed: true); a \
different call under the same decision_id is refused as duplicate."""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """
    One tool: its description, its input schema, who may call it, and what it does.
    """

    description: str
    properties: Mapping[str, Any]
    required: tuple[str, ...]
    roles: tuple[str, ...]
    read_only: bool
    run: Callable[[Service, dict[str, Any]], Any]

    def tool(self, name: str) -> Tool:
        """
        The tool as ``tools/list`` shows it.
        """
        return Tool(
            name=name,
            description=self.description,
            input_schema={
                "type": "object",
                "properties": dict(self.properties),
                "required": list(self.required),
                "additionalProperties": False,
            },
            annotations=ToolAnnotations(
                read_only_hint=self.read_only,
                destructive_hint=False,
                idempotent_hint=True,
                open_world_hint=False,
            ),
        )


def _evaluate_gate(service: Service, arguments: dict[str, Any]) -> Any:
    return outcome_json(service.evaluate_gate(gate_arguments(arguments)))


def _get_decision(service: Service, arguments: dict[str, Any]) -> Any:
    return service.decision(arguments["decision_id"])


def _whole(arguments: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = arguments.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidSchemaError(
            f"{name}: a whole number from {low} to {high}", field=name, rule="range"
        )
    return value


_PENDING_SHOWN: Final = (
    "position",
    "decision_id",
    "gate_type",
    "target_ref",
    "automation_level",
    "awaiting_since",
    "waited_seconds",
)


def _list_pending(service: Service, arguments: dict[str, Any]) -> Any:
    limit = _whole(arguments, "limit", 100, 1, _MAX_PAGE)
    after = _whole(arguments, "after", 0, 0, 1 << 62)
    page = service.decisions("awaiting_human", after=after, limit=limit)
    page["decisions"] = [{k: row[k] for k in _PENDING_SHOWN} for row in page["decisions"]]
    return page


def _verify_ledger(service: Service, _: dict[str, Any]) -> Any:
    return service.verify()


#: The tools, by name. None records a human decision or an AutoSignature on its own.
TOOLS: Final[Mapping[str, ToolSpec]] = {
    "evaluate_gate": ToolSpec(
        EVALUATE_GATE,
        {
            "gate_type": {**_TEXT, "description": "e.g. RefinementSign, ScopeChange"},
            "target_ref": {**_TEXT, "description": "what the gate is about, e.g. WP-12/MT-03"},
            "automation_level": {
                "type": "string",
                "enum": ["FULL_HUMAN", "HYBRID", "AUTONOMOUS", "LOCKED", "ASSISTED", "SUPERVISED"],
            },
            "decision": {
                "type": "string",
                "enum": ["approve", "reject", "defer"],
                "description": "what the model proposes",
            },
            "confidence": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "rationale": {"type": "string", "maxLength": 4096},
            "evidence_refs": {"type": "array", "items": _TEXT, "maxItems": 64},
            "model_id": _TEXT,
            "decision_id": {**_TEXT, "description": "your idempotency key (optional)"},
            "wp_id": _TEXT,
            "mt_id": _TEXT,
            "job_id": _TEXT,
        },
        ("gate_type", "target_ref", "automation_level", "decision"),
        ("orchestrator",),
        read_only=False,
        run=_evaluate_gate,
    ),
    "get_decision": ToolSpec(
        "A recorded decision: its GovernanceDecision and AutoSignature artifacts, its status "
        "and its event sequence. Reads only.",
        {"decision_id": _TEXT},
        ("decision_id",),
        ROLES,
        read_only=True,
        run=_get_decision,
    ),
    "list_pending": ToolSpec(
        "Decisions awaiting a human, oldest first: each one's decision_id, gate type, target, "
        "automation level and how long it has waited (seconds). Pages: pass next_after as "
        "after. Reads only; answering them is for humans, not for any tool.",
        {
            "limit": {"type": "integer", "minimum": 1, "maximum": _MAX_PAGE},
            "after": {"type": "integer", "minimum": 0},
        },
        (),
        ROLES,
        read_only=True,
        run=_list_pending,
    ),
    "verify_ledger": ToolSpec(
        "Recompute the ledger's Merkle tree and check every signed checkpoint; reports the "
        "first position where the store disagrees, if any (as govledger verify). Reads only.",
        {},
        (),
        ROLES,
        read_only=True,
        run=_verify_ledger,
    ),
}


def _result(value: Any, *, error: bool = False) -> CallToolResult:
    text = orjson.dumps(value).decode()
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=value, is_error=error
    )


def _refusal(error: LedgerError) -> CallToolResult:
    return _result({"error": error.as_dict()}, error=True)


class GovernanceMCP:
    """
    The MCP server over one ``Service``: ``run_stdio()`` or ``run_http()``.
    """

    def __init__(self, runtime: Runtime, settings: ServeSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.service: Service | None = None
        self._readers = anyio.CapacityLimiter(_READERS)
        self._writer = anyio.CapacityLimiter(1)
        self.server: Server[Any] = Server(
            "govledger",
            version="1",
            instructions=(
                "The governance ledger. evaluate_gate asks the ledger to decide a gate; "
                "get_decision, list_pending and verify_ledger read. No tool records a human "
                "decision: an agent can never approve its own gate."
            ),
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )

    async def _list_tools(
        self, _ctx: Any, _params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        return ListToolsResult(tools=[spec.tool(name) for name, spec in TOOLS.items()])

    async def _call_tool(self, ctx: Any, params: CallToolRequestParams) -> CallToolResult:
        try:
            spec, arguments = self._checked(ctx, params)
            service = self.service
            assert service is not None  # noqa: S101 - set before the server runs
            limiter = self._readers if spec.read_only else self._writer
            value = await anyio.to_thread.run_sync(
                partial(spec.run, service, arguments), limiter=limiter
            )
        except LedgerError as exc:
            return _refusal(exc)
        except Exception as exc:  # noqa: BLE001 - an agent sees a code, never a traceback
            # The kind only: a message may quote the agent's input.
            _log.error("unexpected %s in an MCP tool", type(exc).__name__)
            return _refusal(InternalError("the ledger failed", rule="internal"))
        return _result(value)

    def _checked(self, ctx: Any, params: CallToolRequestParams) -> tuple[ToolSpec, dict[str, Any]]:
        """
        The tool and its arguments, if the caller may call it with them.
        """
        spec = TOOLS.get(params.name)
        if spec is None:
            raise NotFoundError(
                f"no tool named {params.name[:64]!r} (tools: {', '.join(TOOLS)})",
                field="name",
                rule="tool",
            )
        arguments = dict(params.arguments or {})
        for name in arguments:
            if name not in spec.properties:
                raise InvalidSchemaError(
                    f"{params.name}: unknown argument (allowed: "
                    f"{', '.join(spec.properties) or 'none'})",
                    field=name if len(name) <= 64 and name.isprintable() else "<redacted>",  # noqa: PLR2004
                    rule="additionalProperties",
                )
        for name in spec.required:
            if arguments.get(name) is None:
                raise InvalidSchemaError(
                    f"{params.name}: argument {name!r} is required", field=name, rule="required"
                )
        identity = self._identity(ctx)
        if identity.role not in spec.roles:
            raise WrongRoleError(
                f"the token's role {identity.role!r} may not call {params.name}",
                field="authorization",
                rule="role",
            )
        return spec, arguments

    @staticmethod
    def _identity(ctx: Any) -> Identity:
        request = getattr(ctx, "request", None)
        if request is None:
            return _LOCAL  # stdio: the local user
        identity = request.scope.get(_IDENTITY)
        if not isinstance(identity, Identity):
            raise UnauthorizedError("a bearer token is required", field="authorization")
        return identity

    # --- transports ------------------------------------------------------------------------

    def _open(self) -> Service:
        self.service = Service(self.runtime, self.settings, entry_point="mcp")
        return self.service

    def run_stdio(self) -> None:
        """
        Serve one client over stdin/stdout until it closes them.
        """

        async def main() -> None:
            service = await anyio.to_thread.run_sync(self._open)
            try:
                async with stdio_server() as (read, write):
                    await self.server.run(read, write, self.server.create_initialization_options())
            finally:
                await anyio.to_thread.run_sync(service.close)

        anyio.run(main)

    def http_app(self) -> ASGIApp:
        """
        The streamable HTTP transport at ``/mcp``, behind bearer tokens (``govledger token``).
        """
        app = self.server.streamable_http_app(
            host=self.settings.host, max_request_body_size=self.settings.max_body
        )
        return _Bearer(app, self)

    def run_http(self) -> None:
        """
        Serve streamable HTTP on the settings' host and port until SIGTERM/Ctrl-C.
        """
        import uvicorn  # noqa: PLC0415 - the HTTP transport only

        service = self._open()
        try:
            server = uvicorn.Server(
                uvicorn.Config(
                    self.http_app(),
                    host=self.settings.host,
                    port=self.settings.port,
                    access_log=False,
                    log_level="info",
                )
            )
            server.run()
        finally:
            service.close()


class _Bearer:
    """
    Every MCP HTTP request carries an active token; its identity goes to the tools.
    """

    def __init__(self, app: ASGIApp, owner: GovernanceMCP) -> None:
        self.app = app
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        service = self.owner.service
        assert service is not None  # noqa: S101 - opened before uvicorn starts
        try:
            if scheme.lower() != "bearer":
                raise UnauthorizedError(
                    "a bearer token is required (Authorization: Bearer TOKEN)",
                    field="authorization",
                    rule="bearer",
                )
            identity = await anyio.to_thread.run_sync(
                service.tokens.authenticate,
                token.strip(),
                limiter=self.owner._readers,  # noqa: SLF001
            )
        except LedgerError as exc:
            status = 503 if exc.code == "store_unavailable" else 401
            body = orjson.dumps({"error": exc.as_dict()})
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b"Bearer"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        scope[_IDENTITY] = identity
        await self.app(scope, receive, send)


def create_server(runtime: Runtime, settings: ServeSettings) -> GovernanceMCP:
    """
    The MCP server over ``runtime``'s store.
    """
    return GovernanceMCP(runtime, settings)
