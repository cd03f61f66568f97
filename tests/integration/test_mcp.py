"""``govledger mcp`` over stdio, driven by the MCP SDK's own client (issue 12)."""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stdout
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from ledger import cli
from ledger.bootstrap import bootstrap
from ledger.config import LedgerConfig
from ledger.serve.mcp import TOOLS
from tests.integration._server import ROOT, env

TIMEOUT = 120


def _params(config: LedgerConfig, key: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "ledger", "--store", config.store, "--projection", config.projection, "mcp"],
        env=env(GOVLEDGER_SIGNING_KEY=str(key)),
        cwd=ROOT,
    )


async def _session(config: LedgerConfig, key: Path) -> dict:
    seen: dict = {}
    async with Client(_params(config, key)) as client:
        tools = await client.list_tools()
        seen["tools"] = {tool.name: tool for tool in tools.tools}
        gate = {
            "gate_type": "SpecApproval",
            "target_ref": "WP-12/MT-03",
            "automation_level": "HYBRID",
            "decision": "approve",
            "confidence": 0.5,
            "model_id": "local/qwen",
            "decision_id": "mcp-1",
        }
        seen["evaluate"] = await client.call_tool("evaluate_gate", gate)
        seen["replayed"] = await client.call_tool("evaluate_gate", gate)
        seen["auto"] = await client.call_tool(
            "evaluate_gate",
            {**gate, "decision_id": "mcp-2", "automation_level": "AUTONOMOUS", "confidence": 0.99},
        )
        seen["user"] = await client.call_tool(
            "evaluate_gate", {**gate, "decision_id": "mcp-3", "user_id": "alice"}
        )
        seen["bad_level"] = await client.call_tool(
            "evaluate_gate", {**gate, "decision_id": "mcp-4", "automation_level": "SOMETIMES"}
        )
        seen["pending"] = await client.call_tool("list_pending", {})
        seen["decision"] = await client.call_tool("get_decision", {"decision_id": "mcp-1"})
        seen["missing"] = await client.call_tool("get_decision", {"decision_id": "nope"})
        seen["no_tool"] = await client.call_tool("record_human_decision", {"decision_id": "mcp-1"})
        seen["verify"] = await client.call_tool("verify_ledger", {})
    return seen


@pytest.fixture
def mcp_store(store_config: LedgerConfig, tmp_path: Path) -> tuple[LedgerConfig, Path]:
    key = tmp_path / "key"
    with redirect_stdout(io.StringIO()):
        assert cli.main(["--store", store_config.store, "keygen", "--out", str(key)]) == 0
    return store_config, key


def test_an_agent_lists_the_tools_evaluates_a_gate_lists_pending_and_verifies(mcp_store):
    """
    Issue 12: over stdio, with the SDK's client: the four tools are listed; evaluate_gate
    records the ledger's own decision (and replays a retry); list_pending shows the waiting
    decision; verify_ledger checks the store (sealed by the server when it stopped).
    """
    config, key = mcp_store
    seen = anyio.run(_bounded, config, key)
    assert (
        set(seen["tools"])
        == set(TOOLS)
        == {
            "evaluate_gate",
            "get_decision",
            "list_pending",
            "verify_ledger",
        }
    )
    evaluated = seen["evaluate"].structured_content
    assert not seen["evaluate"].is_error
    assert evaluated["status"] == "awaiting_human"
    assert evaluated["event_types"] == [
        "gov_decision_created",
        "gov_human_intervention_requested",
    ]
    assert seen["replayed"].structured_content == {**evaluated, "replayed": True}
    assert seen["auto"].structured_content["status"] == "auto_approved"
    pending = seen["pending"].structured_content["decisions"]
    assert [row["decision_id"] for row in pending] == ["mcp-1"]
    assert set(pending[0]) >= {"gate_type", "target_ref", "automation_level", "waited_seconds"}
    assert seen["decision"].structured_content["status"] == "awaiting_human"
    assert seen["verify"].structured_content["ok"] is True
    with bootstrap(config).ledger() as ledger:
        assert ledger.gate("mcp-3") is None
        assert ledger.gate("mcp-4") is None
        journal = [record for _, record in ledger.refusals()]
    # The ledger's own refusals are journaled as the MCP entry point's (issue 10).
    assert [(r.entry_point, r.code) for r in journal] == [("mcp", "invalid_schema")]


def test_tool_inputs_are_refused_with_the_ledgers_codes(mcp_store):
    """
    Issue 12: inputs are validated like every other entry point, with the same codes in the
    tool result: an argument no tool takes (``user_id``) and a bad level are invalid_schema,
    an unknown decision is unknown_decision, a tool that does not exist is not_found.
    """
    config, key = mcp_store
    seen = anyio.run(_bounded, config, key)
    for name, field, code in (
        ("user", "user_id", "invalid_schema"),
        ("bad_level", "automation_level", "invalid_schema"),
        ("missing", "decision_id", "unknown_decision"),
        ("no_tool", "name", "not_found"),
    ):
        assert seen[name].is_error, name
        error = seen[name].structured_content["error"]
        assert (error["code"], error["field"]) == (code, field), name


def test_no_tool_can_record_a_human_decision_or_take_a_user():
    """
    Issue 12: no MCP tool records a human decision or an AutoSignature on its own: no tool
    takes a user, an actor or an event type, and the only writing tool says what it does.
    """
    for name, spec in TOOLS.items():
        properties = set(spec.tool(name).input_schema["properties"])
        assert not properties & {"user_id", "user", "actor", "type", "event_id", "final"}, name
        assert spec.tool(name).input_schema["additionalProperties"] is False
    writers = [name for name, spec in TOOLS.items() if not spec.read_only]
    assert writers == ["evaluate_gate"]
    described = TOOLS["evaluate_gate"].description
    assert "never records a human decision" in described
    assert "AutoSignature" in described


async def _bounded(config: LedgerConfig, key: Path) -> dict:
    with anyio.fail_after(TIMEOUT):
        return await _session(config, key)


async def _over_http(url: str, token: str) -> tuple:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"}
    with anyio.fail_after(TIMEOUT):
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
        ):
            gate = {
                "gate_type": "SpecApproval",
                "target_ref": "WP-1",
                "automation_level": "HYBRID",
                "decision": "approve",
                "confidence": 0.5,
                "decision_id": f"mcp-http-{token[-6:]}",
            }
            evaluated = await client.call_tool("evaluate_gate", gate)
            pending = await client.call_tool("list_pending", {})
            return evaluated, pending


def test_over_http_every_call_needs_a_token_and_only_orchestrators_evaluate(tmp_path):
    """
    Issue 12: ``govledger mcp --http`` serves streamable HTTP behind the API tokens: no
    token is 401, an auditor may read but not evaluate a gate (forbidden_role), an
    orchestrator may; SIGTERM ends it with status 0.
    """
    import signal
    import subprocess
    import time

    import httpx

    from tests.integration._server import add_token, free_port

    config = LedgerConfig(store=str(tmp_path / "s.db"), projection=str(tmp_path / "p.duckdb"))
    orchestrator = add_token(config, "orchestrator-1", "orchestrator")
    auditor = add_token(config, "auditor-1", "auditor")
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ledger",
            "--store",
            config.store,
            "--projection",
            config.projection,
            "mcp",
            "--http",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        anonymous = None
        while time.monotonic() < deadline:
            try:
                anonymous = httpx.post(f"{url}/mcp", json={}, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert anonymous is not None
        assert anonymous.status_code == 401
        assert anonymous.json()["error"]["code"] == "unauthorized"
        refused, read = anyio.run(_over_http, url, auditor)
        allowed, _ = anyio.run(_over_http, url, orchestrator)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert refused.is_error
    assert refused.structured_content["error"]["code"] == "forbidden_role"
    assert not read.is_error
    assert not allowed.is_error
    assert allowed.structured_content["status"] == "awaiting_human"
