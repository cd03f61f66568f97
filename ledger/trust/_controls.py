"""``controls.md``: what an evidence pack shows for each duty auditors ask about, and its gaps.

The duties are paraphrased, not quoted, and each is followed by what this pack can
show (with the files that show it and its own figures) and, marked **Gap**, what it
cannot: the pack never claims more than its proofs and tables hold. Pure text from
the pack's own figures: the same pack gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

__all__ = ["controls_md"]

#: Six months, in days, at the shortest (the duty's floor).
_SIX_MONTHS_DAYS: Final = 183


def _n(value: Any) -> str:
    return f"{int(value or 0):,}"


def _days(first: str | None, last: str | None) -> int | None:
    if not first or not last:
        return None
    start = datetime.fromisoformat(first)
    end = datetime.fromisoformat(last)
    return max((end - start).days, 0)


def controls_md(about: Mapping[str, Any], facts: Mapping[str, Any]) -> bytes:  # noqa: PLR0915 - one document
    """
    The document for a pack described by ``about`` (the manifest's store, period, logs,
    contents) with the figures ``facts`` computed from its tables.
    """
    period = about["period"]
    events_log = about["logs"]["events"]
    journal = about["logs"].get("refusals")
    since = period.get("since") or "the first decision"
    until = period.get("until") or "the checkpoint"
    f = facts
    lines: list[str] = []
    add = lines.append
    add("# Evidence pack: what it shows, duty by duty")
    add("")
    add(
        f"Store `{about['store_id']}`. Period: decisions created from {since} until {until} "
        "(excluded), by the events' own time; refusals made in the same period."
    )
    add("")
    add(
        f"The pack is cut at the events log's checkpoint #{events_log['seq']} (tree size "
        f"{_n(events_log['tree_size'])}, signed {events_log['sealed_at']}, origin "
        f"`{events_log['origin']}`)"
        + (
            f" and the refusal journal's checkpoint #{journal['seq']} (tree size "
            f"{_n(journal['tree_size'])}, signed {journal['sealed_at']})."
            if journal
            else "; the store has no refusal journal checkpoint, so no refusal is in the pack."
        )
    )
    add(
        "Nothing stored after those checkpoints is in it. Check everything below offline, "
        "with the pack and the ledger's public key alone:"
    )
    add("")
    add("    govledger audit verify-evidence pack.zip --key PUBLIC_KEY_FILE")
    add("")
    add(
        f"It holds {_n(f['decisions'])} decisions ({_n(f['events'])} events), "
        f"{_n(f['human_requested'])} requests for a human ({_n(f['human_answered'])} answered), "
        f"{_n(f['signatures'])} auto-signatures, {_n(f['halts'])} LOCKED halts and "
        f"{_n(f['refusals'])} refused events. Every event and refusal it holds comes with an "
        "inclusion proof in the signed log (`proofs/`), and the tables hold exactly those."
    )
    add("")
    add("Gaps that hold for every duty below:")
    add("")
    add(
        "- **Gap**: an inclusion proof shows that what the pack holds is in the signed log; "
        "no proof in a pack shows that the log holds nothing else for the period. That needs "
        "the whole log (`govledger verify --key` on the store)."
    )
    add(
        "- **Gap**: whoever holds the signing key could have signed a different history. "
        "Copies of earlier checkpoints kept by others (an earlier pack, with the consistency "
        "proof from it in `proofs/consistency.json`) are what bind the key holder."
    )
    add("")
    add("## EU AI Act (Regulation (EU) 2024/1689)")
    add("")
    add("### Article 12: record-keeping (logging)")
    add("")
    add(
        "The duty, paraphrased: a high-risk AI system technically allows events to be recorded "
        "automatically (logs) over its lifetime, so that situations presenting a risk, "
        "post-market monitoring and the monitoring of its operation can be traced."
    )
    add("")
    add("What this pack shows:")
    add("")
    add(
        f"- {_n(f['events'])} governance events (FR-EVT-GOV-001 to 005) of {_n(f['decisions'])} "
        "gate decisions, recorded automatically as the system ran, each with its own time and "
        "the store's commit time (`tables/events.parquet`, `recorded_at`), in an append-only "
        "log sealed by signed Merkle checkpoints (`checkpoints/`, `proofs/events.json`)."
    )
    codes = ", ".join(f"{code} {_n(n)}" for code, n in f.get("refusals_by_code", {}).items())
    add(
        f"- {_n(f['refusals'])} events the ledger refused in the period, with why "
        f"({codes or 'none'}), never their content: the refusal journal "
        "(`tables/refusals.parquet`, `proofs/refusals.json`)."
    )
    add(
        f"- {_n(f['halts'])} LOCKED halts: gates that would have needed a human while the run "
        "was locked, recorded as a reject or defer (`tables/locked_halts.parquet`)."
    )
    add("")
    add(
        "- **Gap**: the pack holds the governance gates and the refused attempts only, not the "
        "AI system's inputs, outputs or other operational events; whether those are logged "
        "is not shown here."
    )
    add(
        "- **Gap**: it covers one period. That logging was on for the system's whole lifetime "
        "is shown only by a series of packs, each with a consistency proof from the one before."
    )
    add(
        "- **Gap**: Article 12(3) (remote biometric identification: periods of use, the "
        "reference database, the matched input, who verified the result) is not recorded by "
        "the ledger."
    )
    add("")
    add("### Article 14: human oversight")
    add("")
    add(
        "The duty, paraphrased: a high-risk AI system is designed so that natural persons can "
        "oversee it effectively while it is in use, among other things to decide not to use "
        "an output, to override or reverse it, and to intervene or stop the system."
    )
    add("")
    add("What this pack shows:")
    add("")
    add(
        f"- {_n(f['human_requested'])} decisions the gate policy sent to a human (004), "
        f"{_n(f['human_answered'])} of them answered (005), {_n(f['awaiting_human'])} still "
        "awaiting an answer at the cut (`tables/human_interventions.parquet`, with each wait)."
    )
    add(
        f"- {_n(f['overridden'])} answers where the human decided otherwise than the model "
        "(`tables/decisions.parquet`: `model_decision`, `human_decision`)."
    )
    add(
        f"- {_n(f['human_named'])} of {_n(f['human_decided'])} human answers name the person "
        f"who acted; {_n(f['signatures_named'])} of {_n(f['signatures'])} auto-signatures name "
        "the model (`human_attributed`, `model_attributed`)."
    )
    add(
        f"- {_n(f['auto_approved'])} decisions approved without a human, each with the "
        "confidence and the gate table's threshold it met (`tables/decisions.parquet`, "
        f"`tables/auto_signatures.parquet`), and {_n(f['halts'])} LOCKED halts: the system "
        "stopped where a human was needed and none could be asked."
    )
    add(
        "- The gate policy each decision was judged under (`policies/`, canonical text and "
        "SHA-256): the rules that decide when a human must act."
    )
    add("")
    add(
        "- **Gap**: whether the people who answered were competent, trained and had the "
        "authority to (Articles 14(4) and 26(2)): the ledger records who answered, not who "
        "they are."
    )
    add(
        "- **Gap**: how the system lets people understand its output and stop it (its "
        "interface, a stop control beyond LOCKED halts) is design, not a log."
    )
    add(
        "- **Gap**: Article 14(5) (a result verified by two natural persons): the ledger "
        "records one human answer per request."
    )
    add("")
    add("### Articles 19 and 26(6): keeping the logs for at least six months")
    add("")
    add(
        "The duty, paraphrased: providers (Article 19) and deployers (Article 26(6)) keep the "
        "logs the system generated automatically, as far as they control them, for a period "
        "fit for its purpose and at least six months, unless other law provides otherwise."
    )
    add("")
    add("What this pack shows:")
    add("")
    held = _days(f.get("first_recorded"), events_log.get("sealed_at"))
    if held is None:
        add("- The pack holds no event, so it shows no retention.")
    else:
        add(
            f"- The oldest event in the pack was committed to the store at "
            f"{f['first_recorded']}, {held} days before checkpoint #{events_log['seq']} "
            f"(signed {events_log['sealed_at']}) which still covers it: the store held it for "
            f"at least {held} days."
        )
    add(
        "- The ledger has no delete or purge path; removing or changing a sealed event fails "
        "verification against every later checkpoint."
    )
    previous = about.get("contents", {}).get("previous")
    if previous:
        sizes = ", ".join(f"{name} {_n(size)}" for name, size in sorted(previous.items()))
        add(
            f"- A consistency proof from the previous pack's checkpoints (tree sizes: {sizes}) "
            "shows that this log still holds everything they covered, unchanged "
            "(`proofs/consistency.json`)."
        )
    add("")
    if held is None or held < _SIX_MONTHS_DAYS:
        add(
            f"- **Gap**: this pack does not show six months of retention: its oldest record "
            f"is {held if held is not None else 0} days older than its checkpoint. A pack "
            "whose period starts six months before its checkpoint, or a series of packs "
            "linked by consistency proofs, does."
        )
    add(
        "- **Gap**: a pack shows what was held when its checkpoint was signed, not that it "
        "will still be held six months from now; keeping the store (backups, storage, the "
        "retention period chosen) is the operator's, outside the pack."
    )
    if not previous:
        add(
            "- **Gap**: no earlier pack was given (`--previous`), so this pack alone cannot "
            "show that nothing sealed before it was removed or rewritten."
        )
    add("")
    add("## ISO/IEC 42001:2023, Annex A control A.6.2.8: AI system recording of event logs")
    add("")
    add(
        "The control, paraphrased: the organization determines at which phases of the AI "
        "system's life cycle event logs are recorded, at the minimum while the system is in "
        "use."
    )
    add("")
    add(
        f"What this pack shows: event logs recorded while the system was in use, for the "
        f"period ({_n(f['decisions'])} decisions, {_n(f['events'])} events, "
        f"{_n(f['refusals'])} refusals), tamper-evident and proven against signed checkpoints."
    )
    add("")
    add(
        "- **Gap**: the organization's determination (which life-cycle phases are logged, and "
        "why) is a document of its own, not in the ledger."
    )
    add(
        "- **Gap**: logs of other phases (development, verification and validation, "
        "deployment) are not in this pack."
    )
    add("")
    add("## NIST AI RMF 1.0, MAP 3.5")
    add("")
    add(
        "The outcome, paraphrased: processes for human oversight are defined, assessed and "
        "documented in line with the organization's policies (the GOVERN function)."
    )
    add("")
    policies = "; ".join(
        f"`{p['version']}` ({_n(p['decisions'])} decisions, sha256 {p['digest'][:12]}...)"
        for p in f.get("policies", [])
    )
    add(
        f"What this pack shows: the oversight process as it was configured and as it ran: the "
        f"gate policies in force ({policies or 'none'}; full text in `policies/`), which "
        f"decisions they sent to a human ({_n(f['human_requested'])}), and the record of "
        "each human step and of each approval made without one."
    )
    add("")
    add(
        "- **Gap**: how the process is defined in the organization's policies, and its "
        "assessment, are documents outside the ledger: the pack shows the process as run, "
        "not whether it was assessed."
    )
    add("")
    return ("\n".join(lines)).encode()
