"""The service verbs for people on a terminal: token add|list|revoke, pending, decide (issue 12)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ledger.bootstrap import bootstrap
from ledger.cli import main
from ledger.config import LedgerConfig
from ledger.serve import Tokens, UnauthorizedError
from ledger.serve._tokens import token_hash


@pytest.fixture
def paths(tmp_path):
    return ["--store", str(tmp_path / "s.db"), "--projection", str(tmp_path / "p.duckdb")]


def config_of(paths) -> LedgerConfig:
    return LedgerConfig(store=paths[1], projection=paths[3])


def error(capsys) -> dict:
    return orjson.loads(capsys.readouterr().err.strip().splitlines()[-1])["error"]


def test_a_token_is_shown_once_and_only_its_hash_is_kept(paths, capsysbinary):
    """
    Issue 12: ``token add NAME --role R`` prints {"name", "role", "token"}; the store keeps
    the SHA-256 of the token and never the token; the token authenticates as NAME in R.
    """
    assert main([*paths, "token", "add", "alice", "--role", "approver"]) == 0
    shown = orjson.loads(capsysbinary.readouterr().out)
    assert set(shown) == {"name", "role", "token"}
    assert (shown["name"], shown["role"]) == ("alice", "approver")
    raw = Path(paths[1]).read_bytes()
    assert shown["token"].encode() not in raw
    assert token_hash(shown["token"]) in raw
    with bootstrap(config_of(paths)).ledger() as ledger:
        identity = Tokens.of(ledger).authenticate(shown["token"])
    assert (identity.name, identity.role) == ("alice", "approver")


def test_token_list_and_revoke(paths, capsys):
    """
    Issue 12: ``token list`` shows names, roles and dates (never a token); ``token revoke``
    stops the token at once; a revoked name may be given a new token; names are unique.
    """
    assert main([*paths, "token", "add", "ci", "--role", "orchestrator"]) == 0
    first = orjson.loads(capsys.readouterr().out)["token"]
    assert main([*paths, "token", "add", "ci", "--role", "auditor"]) == 2
    assert error(capsys)["rule"] == "unique"
    assert main([*paths, "token", "list", "--format", "json"]) == 0
    listed = orjson.loads(capsys.readouterr().out)
    assert [(row["name"], row["role"], row["revoked_at"]) for row in listed] == [
        ("ci", "orchestrator", None)
    ]
    assert first not in str(listed)
    assert main([*paths, "token", "revoke", "ci"]) == 0
    with bootstrap(config_of(paths)).ledger() as ledger, pytest.raises(UnauthorizedError):
        Tokens.of(ledger).authenticate(first)
    assert main([*paths, "token", "revoke", "ci"]) == 2
    assert main([*paths, "token", "add", "ci", "--role", "auditor"]) == 0


@pytest.mark.parametrize("name", ["", "with space", "a" * 129, "password=hunter2hunter2"])
def test_a_token_name_must_be_a_usable_user_id(paths, capsys, name):
    """
    Issue 12: the name is recorded as the user_id of human decisions: it must be a short,
    plain identifier and never look like a credential.
    """
    assert main([*paths, "token", "add", name, "--role", "approver"]) == 2
    assert error(capsys)["field"] == "name"


def test_pending_lists_waiting_decisions_oldest_first_and_decide_answers_one(paths, capsys):
    """
    Issue 12: ``govledger pending`` lists decisions awaiting a human, oldest first, with how
    long they waited; ``govledger decide ID approve --user NAME`` answers one (005 -> 002),
    and a repeat is the recorded outcome.
    """
    with bootstrap(config_of(paths)).ledger() as ledger:
        ids = [
            ledger.evaluate_gate("SpecApproval", f"WP-{i}", "HYBRID", "approve", 0.5).decision_id
            for i in range(3)
        ]
        ledger.evaluate_gate("SpecApproval", "WP-auto", "AUTONOMOUS", "approve", 0.99, model_id="m")
    assert main([*paths, "pending", "--format", "json"]) == 0
    rows = orjson.loads(capsys.readouterr().out)
    assert [row["decision_id"] for row in rows] == ids
    assert all(row["waited_seconds"] >= 0 and row["waited"] for row in rows)
    assert main([*paths, "decide", ids[1], "approve", "--user", "dana", "--rationale", "ok"]) == 0
    outcome = orjson.loads(capsys.readouterr().out)
    assert (outcome["status"], outcome["replayed"]) == ("human_approved", False)
    assert main([*paths, "decide", ids[1], "approve", "--user", "dana", "--rationale", "ok"]) == 0
    assert orjson.loads(capsys.readouterr().out)["replayed"] is True
    assert main([*paths, "decide", ids[1], "reject", "--user", "erin"]) == 1
    assert error(capsys)["code"] == "duplicate"
    assert main([*paths, "pending", "--format", "json"]) == 0
    assert [row["decision_id"] for row in orjson.loads(capsys.readouterr().out)] == [
        ids[0],
        ids[2],
    ]
    with bootstrap(config_of(paths)).ledger() as ledger:
        assert ledger.gate(ids[1]).history[2]["user_id"] == "dana"


def test_decide_on_an_unknown_decision_names_it(paths, capsys):
    """
    Issue 12: answering a decision that was never recorded is ``unknown_decision`` (exit 1).
    """
    assert main([*paths, "decide", "nope", "approve", "--user", "dana"]) == 1
    assert error(capsys)["code"] == "unknown_decision"
