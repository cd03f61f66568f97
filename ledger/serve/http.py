"""The HTTP API: a FastAPI application over one ``Service``, built by ``create_app``.

FastAPI (on Starlette) because it writes the OpenAPI document of every endpoint
from the code itself (``GET /openapi.json``), so the document cannot drift from
what the server does. Bodies are read here, not by FastAPI's body models: the
size limit must hold before a body is read whole (and after gzip inflation),
and every refusal must be the ledger's ``{"error": {code, field, rule,
message}}``, naming the field. Blocking store work runs in worker threads:
writes one at a time (``Service`` serialises them; waiting is done on the event
loop, not in a thread), reads a few at a time.

Nothing logged carries a token, a request body, an id from a path or any of an
event's text: the access log line is the method, the route's template, the
status and the time taken.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated, Any, Final, TypeVar

import anyio
import orjson
from fastapi import Depends, FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Message, Receive, Scope, Send

from ledger.bootstrap import Runtime
from ledger.errors import InvalidSchemaError, LedgerError
from ledger.ingest import LineResult
from ledger.serve._errors import (
    BodyTooLargeError,
    InternalError,
    NotFoundError,
    UnsupportedMediaTypeError,
)
from ledger.serve._service import (
    ServeSettings,
    Service,
    array_lines,
    body_lines,
    gate_arguments,
    json_body,
    outcome_json,
)
from ledger.serve._tokens import ROLES, Identity

__all__ = ["STATUS", "Guarded", "create_app"]

_log = logging.getLogger("govledger.http")
_T = TypeVar("_T")

#: The HTTP status of each refusal, by code (anything else a LedgerError is: 500).
STATUS: Final = {
    "invalid_schema": 400,
    "unknown_event_type": 400,
    "unauthorized": 401,
    "forbidden_role": 403,
    "unknown_decision": 404,
    "no_checkpoint": 404,
    "not_found": 404,
    "duplicate": 409,
    "sequence_violation": 409,
    "checkpoint_invalid": 409,
    "body_too_large": 413,
    "unsupported_media_type": 415,
    "binding_mismatch": 422,
    "forbidden_gate": 422,
    "locked_halt": 422,
    "store_unavailable": 503,
    "projection_unavailable": 503,
    "key_unusable": 503,
}
_NDJSON: Final = ("application/x-ndjson", "application/jsonl", "application/json-lines")
_JSON: Final = "application/json"
_READERS: Final = 4  # worker threads for reads at once (fewer than a store's pooled connections)
_bearer = HTTPBearer(auto_error=False, description="a token from `govledger token add`")


# --- bodies -----------------------------------------------------------------------------


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_body(request: Request, limit: int) -> bytes:
    """
    The request body, inflated when gzip, refused as soon as it is over ``limit``.

    A declared Content-Length over the limit is refused before any of the body is read;
    otherwise reading stops at the first chunk that passes it, and inflation stops at
    ``limit`` bytes of output, so neither a long body nor a gzip bomb is ever held whole.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", ""):
        raise UnsupportedMediaTypeError(
            f"Content-Encoding {encoding[:40]!r} is not read here (use gzip or none)",
            field="content-encoding",
            rule="gzip",
        )
    inflate = _Inflater(limit) if encoding == "gzip" else None
    received, parts = 0, []
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise _too_large(limit)
        parts.append(inflate.feed(chunk) if inflate is not None else chunk)
    if inflate is not None:
        inflate.finish()
    return b"".join(parts)


def _too_large(limit: int) -> BodyTooLargeError:
    return BodyTooLargeError(
        f"the request body is over the limit of {limit} bytes (after gzip inflation too); "
        "send fewer events per request",
        field="body",
        rule="max_body",
    )


class _Inflater:
    """
    gzip inflation that never produces more than ``limit`` bytes in all (members included).
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._made = 0
        self._member = zlib.decompressobj(wbits=31)

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        try:
            while data:
                room = self._limit - self._made + 1
                piece = self._member.decompress(data, room)
                self._made += len(piece)
                if self._made > self._limit:
                    raise _too_large(self._limit)
                out.append(piece)
                if self._member.unconsumed_tail:
                    data = self._member.unconsumed_tail
                elif self._member.eof and self._member.unused_data:
                    data = self._member.unused_data  # the next gzip member
                    self._member = zlib.decompressobj(wbits=31)
                else:
                    data = b""
        except zlib.error:
            raise _bad_gzip() from None
        return b"".join(out)

    def finish(self) -> None:
        if not self._member.eof:
            raise _bad_gzip()


def _bad_gzip() -> InvalidSchemaError:
    return InvalidSchemaError(
        "body: Content-Encoding is gzip but the body is not complete gzip data",
        field="body",
        rule="gzip",
    )


async def _json_object(request: Request, limit: int) -> dict[str, Any]:
    if _media_type(request) != _JSON:
        raise UnsupportedMediaTypeError(
            "this endpoint reads application/json", field="content-type", rule=_JSON
        )
    value = json_body(await read_body(request, limit))
    if not isinstance(value, dict):
        raise InvalidSchemaError("body: must be a JSON object", field="body", rule="type")
    return value


# --- documentation models (OpenAPI only: bodies are read and checked by the ledger) ----------


class GateRequest(BaseModel):
    """
    ``POST /v1/gates``: ``evaluate_gate``'s arguments.
    """

    model_config = ConfigDict(extra="forbid")
    gate_type: str
    target_ref: str
    automation_level: str = Field(description="FULL_HUMAN, HYBRID, AUTONOMOUS or LOCKED")
    decision: str = Field(description="approve, reject or defer: what the model proposes")
    confidence: float | None = Field(None, ge=0, le=1)
    rationale: str | None = None
    evidence_refs: list[str] | None = None
    model_id: str | None = None
    decision_id: str | None = Field(
        None, description="yours to choose: a retry with the same arguments is replayed"
    )
    wp_id: str | None = None
    mt_id: str | None = None
    job_id: str | None = None


class HumanDecisionRequest(BaseModel):
    """
    ``POST /v1/decisions/{decision_id}/human-decision``: the approver's answer.
    """

    model_config = ConfigDict(extra="forbid")
    decision: str = Field(description="approve, reject or defer")
    rationale: str | None = None


class Outcome(BaseModel):
    """
    What a command recorded (or, when ``replayed``, had recorded).
    """

    decision_id: str
    status: str
    verdict: str
    decision: str | None
    threshold: float | None
    reason: str
    event_types: list[str]
    event_ids: list[str]
    awaiting_human: bool
    halted: bool
    replayed: bool


class ErrorBody(BaseModel):
    """
    ``{"error": {...}}``: the ledger's code, the field and the rule, and a message.
    """

    error: dict[str, str | None]


def _body_doc(model: type[BaseModel] | None, media: dict[str, Any] | None = None) -> Any:
    content = media or {_JSON: {"schema": model.model_json_schema() if model else {}}}
    return {"requestBody": {"required": True, "content": content}}


_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 415, 422, 503)
}
_EVENTS_BODY: Final = {
    media: {"schema": {"type": "string", "description": "FR events, one JSON object a line"}}
    for media in _NDJSON
} | {_JSON: {"schema": {"type": "array", "items": {"type": "object"}}}}


# --- the application ---------------------------------------------------------------------------


def create_app(runtime: Runtime, settings: ServeSettings) -> Guarded:
    """
    The HTTP API over ``runtime``'s store: a ledger opened at startup, closed (after a
    last seal) at shutdown. ``.app`` is the FastAPI application inside ``Guarded``.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = await anyio.to_thread.run_sync(
            partial(Service, runtime, settings, entry_point="http")
        )
        app.state.service = service
        app.state.writes = anyio.CapacityLimiter(1)
        app.state.reads = anyio.CapacityLimiter(_READERS)
        try:
            async with anyio.create_task_group() as tasks:
                if service.signing_key is not None and settings.seal_interval > 0:
                    tasks.start_soon(_seal_every, app, settings.seal_interval)
                yield
                tasks.cancel_scope.cancel()
        finally:
            await anyio.to_thread.run_sync(service.close)

    app = FastAPI(
        title="govledger",
        version="1",
        summary="The governance ledger (Handshake Master Spec v02.132, 2.6.8.12) over HTTP",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    _errors(app, settings)
    _routes(app, settings)
    return Guarded(app)


async def _seal_every(app: FastAPI, interval: float) -> None:
    while True:
        await anyio.sleep(interval)
        try:
            await _read(app, app.state.service.seal)
        except LedgerError as exc:
            _log.warning("seal failed: %s", exc.code)  # retried at the next interval


async def _read(app: FastAPI, call: Callable[..., _T], *args: Any) -> _T:
    return await anyio.to_thread.run_sync(partial(call, *args), limiter=app.state.reads)


async def _write(app: FastAPI, call: Callable[..., _T], *args: Any) -> _T:
    return await anyio.to_thread.run_sync(partial(call, *args), limiter=app.state.writes)


def _role(*roles: str) -> Any:
    async def identity(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> Identity:
        token = credentials.credentials if credentials is not None else None
        service: Service = request.app.state.service
        return await _read(request.app, service.authenticate, token, roles)

    return Depends(identity)


_ORCHESTRATOR: Final = _role("orchestrator")
_APPROVER: Final = _role("approver")
_ANYONE: Final = _role(*ROLES)


def _routes(app: FastAPI, settings: ServeSettings) -> None:  # noqa: C901 - one closure per route
    limit = settings.max_body

    @app.post(
        "/v1/events",
        summary="Ingest FR events (JSON Lines, or a JSON array), as `govledger ingest` does",
        openapi_extra=_body_doc(None, _EVENTS_BODY),
        responses={
            200: {"description": "every line accepted or duplicate: one result per input line"},
            422: {"description": "a line was rejected: the same body, one result per line"},
            **_ERRORS,
        },
        response_class=Response,
    )
    async def post_events(request: Request, _: Identity = _ORCHESTRATOR) -> Response:
        media = _media_type(request)
        if media not in (*_NDJSON, _JSON):
            raise UnsupportedMediaTypeError(
                "POST /v1/events reads application/x-ndjson (or application/jsonl) or an "
                "application/json array",
                field="content-type",
                rule="media_type",
            )
        body = await read_body(request, limit)
        lines = array_lines(body) if media == _JSON else list(body_lines(body))
        service: Service = app.state.service
        results: list[LineResult] = await _write(app, service.ingest, lines)
        rejected = any(r.status == "rejected" for r in results)
        content = b"".join(r.to_json() + b"\n" for r in results)
        return Response(content, 422 if rejected else 200, media_type="application/x-ndjson")

    @app.post(
        "/v1/gates",
        summary="evaluate_gate: the ledger applies the gate table and records the sequence",
        openapi_extra=_body_doc(GateRequest),
        status_code=201,
        responses={201: {"model": Outcome}, 200: {"model": Outcome}, **_ERRORS},
        response_class=Response,
    )
    async def post_gate(request: Request, _: Identity = _ORCHESTRATOR) -> Response:
        arguments = gate_arguments(await _json_object(request, limit))
        service: Service = app.state.service
        outcome = await _write(app, service.evaluate_gate, arguments)
        return _json(outcome_json(outcome), 200 if outcome.replayed else 201)

    @app.post(
        "/v1/decisions/{decision_id}/human-decision",
        summary="An approver answers a decision awaiting a human; the user_id is the token's name",
        openapi_extra=_body_doc(HumanDecisionRequest),
        responses={200: {"model": Outcome}, **_ERRORS},
        response_class=Response,
    )
    async def post_human_decision(
        decision_id: str, request: Request, identity: Identity = _APPROVER
    ) -> Response:
        body = await _json_object(request, limit)
        for name in body:
            if name not in ("decision", "rationale"):
                raise InvalidSchemaError(
                    "human-decision: only 'decision' and 'rationale' are read (the user_id "
                    "recorded is the approver token's name, never the body's)",
                    field=name if len(name) <= 64 and name.isprintable() else "<redacted>",  # noqa: PLR2004
                    rule="additionalProperties",
                )
        if body.get("decision") is None:
            raise InvalidSchemaError(
                "human-decision: field 'decision' is required", field="decision", rule="required"
            )
        rationale = body.get("rationale")
        service: Service = app.state.service
        outcome = await _write(
            app,
            service.human_decision,
            decision_id,
            identity,
            body["decision"],
            "" if rationale is None else rationale,
        )
        return _json(outcome_json(outcome), 200)

    @app.get(
        "/v1/decisions/{decision_id}",
        summary="A decision's GovernanceDecision, AutoSignature, status and events",
        responses=_ERRORS,
        response_class=Response,
    )
    async def get_decision(decision_id: str, request: Request, _: Identity = _ANYONE) -> Response:
        service: Service = request.app.state.service
        return _json(await _read(app, service.decision, decision_id), 200)

    @app.get(
        "/v1/decisions",
        summary="Decisions by status, oldest first (in the order they were created), paginated",
        responses=_ERRORS,
        response_class=Response,
    )
    async def get_decisions(
        request: Request,
        status: Annotated[str, Query(description="one of the status words")] = "awaiting_human",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        after: Annotated[int, Query(ge=0, description="`next_after` of the previous page")] = 0,
        _: Identity = _ANYONE,
    ) -> Response:
        service: Service = request.app.state.service
        page = await _read(app, partial(service.decisions, status, after=after, limit=limit))
        return _json(page, 200)

    @app.get(
        "/v1/checkpoint",
        summary="The latest signed checkpoint (a C2SP signed note)",
        responses={200: {"content": {"text/plain": {}}}, **_ERRORS},
        response_class=Response,
    )
    async def get_checkpoint(request: Request, _: Identity = _ANYONE) -> Response:
        service: Service = request.app.state.service
        note = await _read(app, service.checkpoint)
        return Response(note, 200, media_type="text/plain; charset=utf-8")

    @app.get(
        "/v1/decisions/{decision_id}/proof",
        summary="Inclusion proofs of the decision's events, as `govledger prove` writes them",
        responses=_ERRORS,
        response_class=Response,
    )
    async def get_proof(decision_id: str, request: Request, _: Identity = _ANYONE) -> Response:
        service: Service = request.app.state.service
        return _json(await _read(app, service.proof, decision_id), 200)

    @app.get("/healthz", summary="Liveness: the process answers", response_class=Response)
    async def healthz() -> Response:
        return _json({"status": "ok"}, 200)

    @app.get(
        "/readyz",
        summary="Readiness: the store answers",
        responses=_ERRORS,
        response_class=Response,
    )
    async def readyz(request: Request) -> Response:
        service: Service = request.app.state.service
        position = await _read(app, service.ledger.max_position)
        return _json({"status": "ready", "position": position}, 200)


def _json(value: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(value), status, headers=headers, media_type=_JSON)


def _error(error: LedgerError, status: int, settings: ServeSettings) -> Response:
    headers: dict[str, str] = {}
    if status == 401:  # noqa: PLR2004
        headers["WWW-Authenticate"] = "Bearer"
    if status == 503:  # noqa: PLR2004
        headers["Retry-After"] = str(settings.retry_after)
    return _json({"error": error.as_dict()}, status, headers)


def _errors(app: FastAPI, settings: ServeSettings) -> None:
    async def ledger_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, LedgerError)  # noqa: S101 - registered for LedgerError only
        return _error(exc, STATUS.get(exc.code, 500), settings)

    async def invalid_request(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)  # noqa: S101
        first = exc.errors()[0] if exc.errors() else {}
        location = first.get("loc", ())
        field = str(location[-1]) if location else None
        error = InvalidSchemaError(
            f"{field}: {first.get('msg', 'invalid')}", field=field, rule=first.get("type")
        )
        return _error(error, 400, settings)

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)  # noqa: S101
        if exc.status_code in (404, 405):
            error = NotFoundError(
                "no such endpoint" if exc.status_code == 404 else "method not allowed here",  # noqa: PLR2004
                rule="route",
            )
            return _error(error, exc.status_code, settings)
        return _error(InternalError(str(exc.detail), rule="http"), exc.status_code, settings)

    async def unexpected(_: Request, exc: Exception) -> Response:
        # Starlette answers with this, then re-raises to ``Guarded``, which logs the kind only.
        del exc
        return _error(InternalError("the server failed", rule="internal"), 500, settings)

    app.add_exception_handler(LedgerError, ledger_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


class Guarded:
    """
    The outermost ASGI layer: one access-log line per request (no ids, bodies or tokens),
    and an unexpected failure becomes a plain 500 ``internal_error``, never a traceback.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [0]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:  # noqa: BLE001 - the one place nothing unexpected leaks out
            _log.error(
                "unexpected %s in %s", type(exc).__name__, _route(scope)
            )  # no traceback: it may quote the request
            if status[0] == 0:
                body = orjson.dumps(
                    {"error": InternalError("the server failed", rule="internal").as_dict()}
                )
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                status[0] = 500
        _log.info(
            "%s %s %d %.1fms",
            scope.get("method", "-"),
            _route(scope, self.app.routes),
            status[0],
            (time.perf_counter() - started) * 1000,
        )


def _route(scope: Scope, routes: Sequence[BaseRoute] = ()) -> str:
    """
    The route's template (``/v1/decisions/{decision_id}``), never the path itself.
    """
    route = scope.get("route")
    if route is None:  # the routes FastAPI adds itself (openapi.json) do not say
        route = next((r for r in routes if r.matches(scope)[0] is Match.FULL), None)
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "(no route)"
