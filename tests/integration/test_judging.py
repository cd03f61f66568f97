"""Judging as the spec and the upstream runtime need it (issue 10), on SQLite and PostgreSQL.

The refusal journal, the operator's gate policy pinned per decision, attribution of
auto-signatures and human steps, decision-id reuse, and events exactly as the upstream
Handshake runtime emits them (11.5.1 base + 11.5.7 fields, no model_id/user_id/rationale,
nine fractional digits, uuid v4 and v7 ids).
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import duckdb
import orjson
import pytest

import projections
from ledger.bootstrap import bootstrap, load_policy
from ledger.cli import main
from ledger.errors import ForbiddenGateError, InvalidSchemaError, LockedHaltError
from ledger.ingest import ingest_lines

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
UPSTREAM = FIXTURES / "upstream_runtime.jsonl"
UPSTREAM_POLICY = FIXTURES / "upstream_policy.toml"


def _event(event_type, decision_id, **fields):
    event = {
        "type": event_type,
        "event_id": str(uuid.uuid4()),
        "timestamp": "2026-11-30T10:00:00.123456789+00:00",
        "actor": "agent",
        "decision_id": decision_id,
        "gate_type": "SpecApproval",
        "target_ref": "WP-1",
        "automation_level": "AUTONOMOUS",
    }
    event.update(fields)
    return event


def _projected(config):
    runtime = bootstrap(config)
    with runtime.ledger() as ledger:
        con = runtime.projection(store=ledger.store.meta)
        try:
            projections.catch_up(ledger, con)
        finally:
            con.close()
    return duckdb.connect(config.projection, read_only=True)


# --- the refusal journal (issue 10 section 5) ---------------------------------------------


def test_every_refused_event_is_journaled_with_the_batch_never_its_content(store_config):
    """
    Issue 10 §5: refusals are recorded in the same transaction as their batch: when, the
    entry point, ids and type where readable and not secret, code/rule/field, the SHA-256
    of the submitted bytes; never the content. An identical re-send is not a refusal.
    """
    accepted = _event("gov_decision_created", "dec-j1", decision="approve")
    cloud = _event(
        "gov_decision_created", "dec-j2", gate_type="CloudEscalation", decision="approve"
    )
    forged = _event("gov_auto_signature_created", "dec-j2", gate_type="CloudEscalation")
    secret = _event("gov_decision_created", "dec-j3", rationale="password=hunter2hunter2")
    lines = [orjson.dumps(e) for e in (accepted, cloud, forged, secret)]
    lines.append(b"{not json")
    lines.append(lines[0])  # an identical re-send: duplicate, not journaled
    with bootstrap(store_config).ledger() as ledger:
        results = list(ingest_lines(ledger, lines))
        assert [r.status for r in results] == [
            "accepted",
            "accepted",
            "rejected",
            "rejected",
            "rejected",
            "duplicate",
        ]
        journal = [record for _, record in ledger.refusals()]
    assert [(r.entry_point, r.code) for r in journal] == [
        ("ingest", "forbidden_gate"),
        ("ingest", "invalid_schema"),
        ("ingest", "invalid_schema"),
    ]
    assert journal[0].event_id == forged["event_id"]
    assert (journal[0].decision_id, journal[0].type) == ("dec-j2", "gov_auto_signature_created")
    assert (journal[1].rule, journal[1].field) == ("no_credentials", "rationale")
    assert journal[2].event_id is None
    assert journal[2].rule == "json"
    assert [r.sha256 for r in journal] == [
        hashlib.sha256(line).hexdigest() for line in (lines[2], lines[3], lines[4])
    ]
    assert "hunter2" not in repr(journal)


def test_refusals_from_the_command_api_and_append_name_their_entry_point(store_config):
    """
    Issue 10 §5: every entry point journals what it refuses (the command API and append).
    """
    with bootstrap(store_config).ledger() as ledger:
        with pytest.raises(LockedHaltError):
            ledger.create_decision("CloudEscalation", "WP-9", "LOCKED", "approve", 0.99)
        with pytest.raises(InvalidSchemaError):
            ledger.evaluate_gate("SpecApproval", "WP-9", "HYBRID", "approve", "high")
        ledger.append([_event("gov_decision_applied", "no-such-decision", decision="approve")])
        journal = [record for _, record in ledger.refusals()]
    assert [(r.entry_point, r.code) for r in journal] == [
        ("api", "locked_halt"),
        ("api", "invalid_schema"),
        ("append", "sequence_violation"),
    ]


def test_a_credential_shaped_id_is_journaled_without_it(store_config):
    """
    Issue 10 §5: the journal keeps event_id/decision_id/type only when not credential-shaped.
    """
    token = "ghp_" + "A" * 36
    with bootstrap(store_config).ledger() as ledger:
        ledger.append([_event("gov_decision_created", token, decision="approve")])
        (record,) = [record for _, record in ledger.refusals()]
    assert record.decision_id is None
    assert token not in repr(record)


def test_the_journal_is_projected_and_audited_newest_first(store_config, capsys):
    """
    Issue 10 §5: the read side projects refusals; `audit refusals` lists them newest first.
    """
    with bootstrap(store_config).ledger() as ledger:
        for n in range(3):
            ledger.append([_event("gov_decision_applied", f"missing-{n}", decision="approve")])
    con = _projected(store_config)
    rows = con.execute("SELECT decision_id FROM refusals ORDER BY position").fetchall()
    con.close()
    assert rows == [("missing-0",), ("missing-1",), ("missing-2",)]
    args = ["--store", store_config.store, "--projection", store_config.projection]
    assert main([*args, "audit", "refusals", "--format", "json"]) == 0
    listed = orjson.loads(capsys.readouterr().out)
    assert [r["decision_id"] for r in listed] == ["missing-2", "missing-1", "missing-0"]
    assert main([*args, "audit", "refusals", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("position,refused_at,entry_point")


# --- the operator's gate policy, pinned per decision (issue 10 section 4) ------------------

TIGHT = """
version = "tight-1"
[gates.MicroTaskValidation]
HYBRID = "human"
"""


def test_a_decision_is_judged_under_the_policy_it_was_created_under(store_config, tmp_path):
    """
    Issue 10 §4 / 4.3.7.1: changing the policy mid-flight never changes how an open
    decision is judged; the store keeps each policy once and which one each decision
    was created under.
    """
    (tmp_path / "tight.toml").write_text(TIGHT)
    loose = bootstrap(store_config.with_policy(str(UPSTREAM_POLICY)))
    tight = bootstrap(store_config.with_policy(str(tmp_path / "tight.toml")))
    with loose.ledger() as ledger:
        early = ledger.create_decision("MicroTaskValidation", "WP-1", "HYBRID", "approve", 0.95)
    with tight.ledger() as ledger:
        late = ledger.create_decision("MicroTaskValidation", "WP-2", "HYBRID", "approve", 0.95)
        # Created under the loose file: still auto-signed under it, whatever is in force now.
        assert ledger.auto_sign(early.decision_id, model_id="m").event_types
        with pytest.raises(ForbiddenGateError):
            ledger.auto_sign(late.decision_id, model_id="m")
    with bootstrap(store_config).ledger() as ledger:  # the built-in table is in force now
        assert ledger.apply_decision(early.decision_id).status == "auto_approved"
    con = _projected(store_config)
    pinned = dict(
        con.execute(
            "SELECT target_ref, policy_version || ' ' || policy_digest FROM decisions"
        ).fetchall()
    )
    con.close()
    assert pinned == {
        "WP-1": f"ops-2026-12 {loose.policy.digest}",
        "WP-2": f"tight-1 {tight.policy.digest}",
    }


def test_without_a_file_decisions_record_the_builtin_table(store_config):
    """
    Issue 10 §6: decisions.policy_version/policy_digest name the built-in table by default.
    """
    runtime = bootstrap(store_config)
    with runtime.ledger() as ledger:
        outcome = ledger.evaluate_gate("SpecApproval", "WP-1", "AUTONOMOUS", "approve", 0.9)
        record = ledger.decision(outcome.decision_id)
    assert (record.policy_version, record.policy_digest) == ("builtin", runtime.policy.digest)


def test_human_identity_can_be_required_by_the_policy(store_config, tmp_path):
    """
    Issue 10 §4: require_human_identity makes a 005 without user_id (or not from a human)
    invalid_schema naming user_id; by default it is accepted and marked unattributed.
    """
    (tmp_path / "p.toml").write_text('version = "who"\nrequire_human_identity = true\n')
    runtime = bootstrap(store_config.with_policy(str(tmp_path / "p.toml")))
    with runtime.ledger() as ledger:
        outcome = ledger.evaluate_gate("ScopeChange", "WP-1", "HYBRID", "approve", 0.5)
        answer = _event(
            "gov_human_intervention_received",
            outcome.decision_id,
            gate_type="ScopeChange",
            automation_level="HYBRID",
            decision="approve",
        )
        (result,) = ledger.append([answer])
    assert (result.error.code, result.error.field, result.error.rule) == (
        "invalid_schema",
        "user_id",
        "require_human_identity",
    )


def test_refs_only_keeps_prose_out_of_events(store_config, tmp_path):
    """
    Issue 10 §4 / work packet risk map ("events must be refs only"): with text = "refs_only"
    rationale, target_ref and evidence_refs hold safe tokens only.
    """
    (tmp_path / "p.toml").write_text('version = "refs"\ntext = "refs_only"\n')
    runtime = bootstrap(store_config.with_policy(str(tmp_path / "p.toml")))
    with runtime.ledger() as ledger:
        results = ledger.append(
            [
                _event("gov_decision_created", "r1", rationale="report:wp-1/ok.md"),
                _event("gov_decision_created", "r2", rationale="all checks are green"),
                _event("gov_decision_created", "r3", evidence_refs=["alice@example.com"]),
            ]
        )
    assert [(r.status, r.error and r.error.rule) for r in results] == [
        ("accepted", None),
        ("rejected", "refs_only"),
        ("rejected", "refs_only"),
    ]


def test_a_policy_file_that_loosens_a_normative_cell_is_refused_at_start_up(tmp_path, capsys):
    """
    Issue 10 §4: the five normative gates may only be tightened; a file that loosens any
    cell, names an unknown level or holds a malformed value is refused (exit 2, naming the
    gate, the level and why).
    """
    store = str(tmp_path / "l.db")
    cases = {
        "loosen.toml": ('version="x"\n[gates.ScopeChange]\nAUTONOMOUS = 0.9\n', "tighten_only"),
        "level.toml": ('version="x"\n[gates.Deploy]\nSOMETIMES = "auto"\n', "level"),
        "value.toml": ('version="x"\n[gates.Deploy]\nHYBRID = 1.5\n', "cell"),
        "locked.toml": ('version="x"\n[gates.Deploy]\nLOCKED = "human"\n', "level"),
        "spoof.toml": ('version="x"\n[gates.cloudescalation]\nHYBRID = "auto"\n', "confusable"),
    }
    for name, (text, rule) in cases.items():
        (tmp_path / name).write_text(text)
        assert main(["--store", store, "--policy", str(tmp_path / name), "demo"]) == 2
        error = orjson.loads(capsys.readouterr().err)["error"]
        assert error["code"] == "configuration_error"
        assert rule in error["rule"]
        assert "gate '" in error["message"]
    assert not Path(store).exists()  # refused before anything was stored


def test_policy_show_and_check(tmp_path, capsys):
    """
    Issue 10 §4: `policy show` prints the policy in force and its digest; `policy check`
    validates a file without using it (exit 0 valid, 2 with the reason).
    """
    assert main(["--policy", str(UPSTREAM_POLICY), "policy", "show"]) == 0
    shown = orjson.loads(capsys.readouterr().out)
    assert shown["digest"] == load_policy(str(UPSTREAM_POLICY)).digest
    assert shown["version"] == "ops-2026-12"
    assert main(["policy", "show"]) == 0
    assert orjson.loads(capsys.readouterr().out)["version"] == "builtin"
    assert main(["policy", "check", str(UPSTREAM_POLICY)]) == 0
    capsys.readouterr()
    (tmp_path / "bad.toml").write_text('version="x"\n[gates.SpecApproval]\nHYBRID = 0.5\n')
    assert main(["policy", "check", str(tmp_path / "bad.toml")]) == 2
    assert "SpecApproval" in capsys.readouterr().err


# --- attribution and the upstream runtime (issue 10 sections 1 and 6) -----------------------

WITHOUT_POLICY = {
    "gd-auto-spec": "auto_approved",
    "gd-human-refine": "human_approved",
    "gd-locked-human": "deferred",  # an unlisted gate is Auto under LOCKED: no halt
    "gd-locked-cloud": "halted",
    "gd-crash-scope": "open",  # signed, never applied: the runtime crashed before its 002
    "gd-microtask": "open",  # the runtime auto-signed a gate the table leaves to a human
}
WITH_POLICY = {
    **WITHOUT_POLICY,
    "gd-locked-human": "halted",  # declared human everywhere: LOCKED fails closed
    "gd-microtask": "auto_approved",  # declared Auto from 0.9 under HYBRID
}


@pytest.mark.parametrize(
    ("policy", "expected"), [(None, WITHOUT_POLICY), (UPSTREAM_POLICY, WITH_POLICY)]
)
def test_events_as_the_upstream_runtime_emits_them_are_judged_end_to_end(
    store_config, policy, expected
):
    """
    Issue 10 Done means: upstream lifecycles (no model_id/user_id/rationale, nine-digit
    fractions, uuid v4 and v7) are accepted end to end; their projected statuses with and
    without a policy declaring MicroTaskValidation and HumanIntervention.
    """
    config = store_config if policy is None else store_config.with_policy(str(policy))
    with bootstrap(config).ledger() as ledger:
        results = list(ingest_lines(ledger, UPSTREAM.read_bytes().splitlines()))
    refused = [r.line for r in results if r.status != "accepted"]
    assert refused == ([] if policy else [15, 16])  # the MicroTaskValidation 003 and 002
    con = _projected(config)
    statuses = dict(con.execute("SELECT decision_id, status FROM decisions").fetchall())
    signatures = con.execute(
        "SELECT decision_id, model_id, model_attributed FROM auto_signatures ORDER BY position"
    ).fetchall()
    humans = con.execute(
        "SELECT decision_id, human_attributed FROM decisions WHERE human_decided_at IS NOT NULL"
    ).fetchall()
    unattributed = {
        row[0]
        for row in con.execute(
            "SELECT decision_id FROM decisions WHERE applied_at IS NOT NULL AND ("
            "(signed_at IS NOT NULL AND signed_by IS NULL) OR "
            "(human_decided_at IS NOT NULL AND NOT human_attributed))"
        ).fetchall()
    }
    con.close()
    assert statuses == expected
    assert all(model == "unattributed" and not named for _, model, named in signatures)
    assert humans == [("gd-human-refine", False)]  # the runtime resumed it, not a named human
    assert "gd-auto-spec" in unattributed
    assert "gd-human-refine" in unattributed


def test_the_auto_signature_artifact_says_when_no_model_was_named(store_config):
    """
    Issue 10 §1 / 2.6.8.12.6.3: actor.model_id from the 003, else its 001; else the
    artifact says "unattributed" (and the record marks it).
    """
    with bootstrap(store_config).ledger() as ledger:
        ledger.append(
            [
                _event("gov_decision_created", "a1", decision="approve"),
                _event("gov_auto_signature_created", "a1"),
                _event("gov_decision_created", "a2", decision="approve", model_id="m-001"),
                _event("gov_auto_signature_created", "a2"),
                _event("gov_decision_created", "a3", decision="approve", model_id="m-001"),
                _event("gov_auto_signature_created", "a3", model_id="m-003"),
            ]
        )
        signed = {d: ledger.decision(d) for d in ("a1", "a2", "a3")}
    assert {d: r.auto_signature.actor.model_id for d, r in signed.items()} == {
        "a1": "unattributed",
        "a2": "m-001",
        "a3": "m-003",
    }
    assert [signed[d].model_attributed for d in ("a1", "a2", "a3")] == [False, True, True]


def test_the_command_api_never_records_an_anonymous_human(store_config):
    """
    Issue 10 §1: record_human_decision requires a non-empty user_id.
    """
    with bootstrap(store_config).ledger() as ledger:
        outcome = ledger.evaluate_gate("ScopeChange", "WP-1", "HYBRID", "approve", 0.5)
        for nobody in ("", "   ", None):
            with pytest.raises(InvalidSchemaError) as info:
                ledger.record_human_decision(outcome.decision_id, nobody, "approve")
            assert info.value.field == "user_id"
        assert ledger.gate(outcome.decision_id).status == "awaiting_human"


# --- every rule through every entry point ---------------------------------------------------


def _through_ingest(config, events):
    with bootstrap(config).ledger() as ledger:
        return [
            (r.status, r.code, r.field)
            for r in ingest_lines(ledger, [orjson.dumps(e) for e in events])
        ]


def _through_append(config, events):
    with bootstrap(config).ledger() as ledger:
        return [
            (r.status, r.error and r.error.code, r.error and r.error.field)
            for r in ledger.append(events)
        ]


def _through_cli(config, events, tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    capsys.readouterr()
    main(["--store", config.store, "ingest", str(source), "--quiet"])
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    return [(r["status"], r["code"], r["field"]) for r in lines]


SPOOFED = _event(
    "gov_decision_created", "spoof", gate_type="Cloud\u200bEscalation", decision="approve"
)
LOCKED_001 = _event(
    "gov_decision_created",
    "halt",
    gate_type="ScopeChange",
    automation_level="LOCKED",
    decision="defer",
    confidence=0.2,
)
LOCKED_SIGNED = _event(
    "gov_auto_signature_created",
    "halt",
    gate_type="ScopeChange",
    automation_level="LOCKED",
    target_ref="WP-other",  # binding would refuse it too
)
FIRST = _event("gov_decision_created", "reuse", decision="approve")
REUSED = _event("gov_decision_created", "reuse", decision="approve", target_ref="WP-2")
LEAP = _event("gov_decision_created", "leap", timestamp="2016-12-31T23:59:60Z")
OFFSET = _event("gov_decision_created", "offset", timestamp="2026-02-19T15:00:00+05:99")
RULES_IN_ORDER = [SPOOFED, LOCKED_001, LOCKED_SIGNED, FIRST, REUSED, LEAP, OFFSET]
EXPECTED = [
    ("rejected", "invalid_schema", "gate_type"),  # §2 gate_type_confusable
    ("accepted", None, None),
    ("rejected", "locked_halt", "automation_level"),  # §1 LOCKED takes precedence
    ("accepted", None, None),
    ("rejected", "duplicate", "decision_id"),  # §1 decision-id reuse is replay
    ("accepted", None, None),  # §1 a leap second is valid RFC 3339
    ("rejected", "invalid_schema", "timestamp"),  # §1 offsets must be real
]


@pytest.mark.parametrize("entry", ["append", "ingest", "cli"])
def test_the_rules_hold_through_every_entry_point(store_config, entry, tmp_path, capsys):
    """
    Issue 10: spoofed gate names, LOCKED precedence, decision-id reuse and real timestamps
    give the same results through append, ingest_lines and the CLI, on both stores.
    """
    if entry == "append":
        got = _through_append(store_config, RULES_IN_ORDER)
    elif entry == "ingest":
        got = _through_ingest(store_config, RULES_IN_ORDER)
    else:
        got = _through_cli(store_config, RULES_IN_ORDER, tmp_path, capsys)
    assert got == EXPECTED
    with bootstrap(store_config).ledger() as ledger:
        codes = [record.code for _, record in ledger.refusals()]
    assert codes == [code for status, code, _ in EXPECTED if status == "rejected"]


def test_the_command_api_refuses_a_spoofed_gate_by_name(store_config):
    """
    Issue 10 §2 through the command API: a near-miss gate name is never an unlisted gate.
    """
    with bootstrap(store_config).ledger() as ledger:
        for spelled in ("cloudescalation", "PolicyViolation ", "Cloud\u200bEscalation"):
            with pytest.raises(InvalidSchemaError) as info:
                ledger.evaluate_gate(spelled, "WP-1", "AUTONOMOUS", "approve", 1.0)
            assert info.value.rule == "gate_type_confusable"


def test_audit_attribution_lists_decisions_closed_by_unattributed_steps(store_config, capsys):
    """
    Issue 10 §6: `audit attribution` lists decisions closed by an auto-signature that names
    no model, or by a human step that names no human.
    """
    with bootstrap(store_config).ledger() as ledger:
        list(ingest_lines(ledger, UPSTREAM.read_bytes().splitlines()))
        named = ledger.evaluate_gate(
            "SpecApproval", "WP-9", "AUTONOMOUS", "approve", 0.99, model_id="local/qwen"
        )
    args = ["--store", store_config.store, "--projection", store_config.projection]
    assert main([*args, "audit", "attribution", "--format", "json"]) == 0
    listed = {r["decision_id"]: r["unattributed"] for r in orjson.loads(capsys.readouterr().out)}
    assert listed == {"gd-auto-spec": "auto_signature", "gd-human-refine": "human_step"}
    assert named.decision_id not in listed


def test_a_deeply_nested_decision_is_refused_by_type_even_under_locked(store_config):
    """
    Issue 11 (no tracebacks) through the command API: a LOCKED halt quotes the proposed
    decision in its rationale, so a non-text decision is refused before it is quoted.
    """
    nested: list = []
    for _ in range(100_000):
        nested = [nested]
    with bootstrap(store_config).ledger() as ledger, pytest.raises(InvalidSchemaError) as info:
        ledger.evaluate_gate("CloudEscalation", "WP-1", "LOCKED", nested, 0.5)
    assert (info.value.field, info.value.rule) == ("decision", "type")
