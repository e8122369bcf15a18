"""`usage-billing push`: send each final invoice to a target once, and amendments when it changes.

`plan` compares the marts with the ledger and lists the steps, writing nothing (`--dry-run`
prints them). `push` runs them one document at a time: ledger row `pending` first, then the
requests, then `done` — so a crash loses at most the document in flight, and the next run
resumes it with the same idempotency key before anything else of that invoice.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from usage_billing.errors import FatalError, RetriableError
from usage_billing.marts.model import InvoiceVersion
from usage_billing.push.alerts import ALERT_KIND
from usage_billing.push.documents import Document, idempotency_key
from usage_billing.push.ledger import Ledger, LedgerEntry
from usage_billing.push.targets.base import Job, Target

ACTIVE = ("done", "pending")


@dataclass(frozen=True)
class Step:
    """One document to push, with the ledger rows it continues or replaces."""

    document: Document
    customer_id: str
    external_customer: str | None
    existing: LedgerEntry | None = None
    supersede: LedgerEntry | None = None

    @property
    def action(self) -> str:
        if self.external_customer is None:
            return "skip: unmapped customer"
        if self.existing is None:
            return "send"
        if self.existing.state == "pending":
            return "resume"
        return "retry"


@dataclass
class PushReport:
    """The steps sent, failed and skipped. An invoice may take two steps (a resumed document,
    then the amendment since), so `invoice_counts` is what to tell a person."""

    sent: list[Step] = field(default_factory=list)
    failed: list[tuple[Step, str]] = field(default_factory=list)
    skipped: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def invoice_counts(self) -> tuple[int, int, int]:
        """Invoices (sent, failed, skipped), each counted once in its final state: failed when
        any of its steps failed, skipped when unmapped, sent when all of its steps were."""
        failed = {step.document.invoice_id for step, _ in self.failed}
        skipped = {step.document.invoice_id for step in self.skipped} - failed
        sent = {step.document.invoice_id for step in self.sent} - failed - skipped
        return len(sent), len(failed), len(skipped)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def document_of(entry: LedgerEntry, original_external_id: str | None) -> Document:
    """The document a ledger row describes, exactly as first planned."""
    previous = InvoiceVersion.from_json(entry.previous_payload) if entry.previous_payload else None
    return Document(
        target=entry.target,
        revision=entry.revision,
        current=InvoiceVersion.from_json(entry.payload),
        previous=previous,
        original_external_id=original_external_id if previous is not None else None,
        key=entry.idempotency_key,
    )


def entry_of(
    document: Document, state: str, attempts: int, error: str | None = None
) -> LedgerEntry:
    now = _now()
    return LedgerEntry(
        target=document.target,
        invoice_id=document.invoice_id,
        revision=document.revision,
        kind=document.kind,
        content_hash=document.current.content_hash,
        previous_content_hash=document.previous.content_hash if document.previous else None,
        idempotency_key=document.key,
        external_id=None,
        state=state,
        attempts=attempts,
        error=error,
        payload=document.current.to_json(),
        previous_payload=document.previous.to_json() if document.previous else None,
        created_at=now,
        updated_at=now,
        done_at=None,
    )


def _original_external_id(entries: list[LedgerEntry]) -> str | None:
    for entry in entries:
        if entry.kind == "invoice" and entry.state in ACTIVE:
            return entry.external_id
    return None


def plan(
    target: str,
    invoices: Iterable[InvoiceVersion],
    entries: Iterable[LedgerEntry],
    mapping: dict[str, str] | None,
) -> tuple[list[Step], int]:
    """The steps that bring the target up to date with `invoices`, and how many invoices
    already are (none of those has a step).

    `mapping` is customer_id → the target's customer id; None when the target needs none.
    """
    by_invoice: dict[str, list[LedgerEntry]] = {}
    for entry in entries:
        if entry.kind == ALERT_KIND:  # threshold alerts share the ledger (push.alerts)
            continue
        by_invoice.setdefault(entry.invoice_id, []).append(entry)
    current = {invoice.invoice_id: invoice for invoice in invoices}
    steps: list[Step] = []
    up_to_date = 0
    for invoice_id in sorted(set(by_invoice) | set(current)):
        rows = sorted(by_invoice.get(invoice_id, []), key=lambda entry: entry.revision)
        version = current.get(invoice_id)
        original = _original_external_id(rows)
        customer_id = (
            version.customer_id
            if version
            else InvoiceVersion.from_json(rows[-1].payload).customer_id
        )

        def external(customer: str) -> str | None:
            return customer if mapping is None else mapping.get(customer)

        # Interrupted documents first: they may be half at the target already.
        resumed = [entry for entry in rows if entry.state == "pending"]
        for entry in resumed:
            document = document_of(entry, original)
            steps.append(Step(document, customer_id, external(customer_id), existing=entry))
        if version is None:
            continue
        active = [entry for entry in rows if entry.state in ACTIVE]
        base = active[-1] if active else None
        if base is not None and base.content_hash == version.content_hash:
            # Current once its resumed documents are done: up to date only when there are none.
            if not resumed:
                up_to_date += 1
            continue
        tail = rows[-1] if rows else None
        existing = supersede = None
        revision = 0 if tail is None else tail.revision + 1
        if tail is not None and tail.state in ("failed", "skipped"):
            if tail.content_hash == version.content_hash or tail.state == "skipped":
                existing, revision = tail, tail.revision
            else:
                supersede = tail
        previous = InvoiceVersion.from_json(base.payload) if base is not None else None
        document = Document(
            target=target,
            revision=revision,
            current=version,
            previous=previous,
            original_external_id=original if previous is not None else None,
            key=idempotency_key(target, invoice_id, version.content_hash, revision),
        )
        steps.append(Step(document, customer_id, external(customer_id), existing, supersede))
    return steps, up_to_date


def _prepare(ledger: Ledger, step: Step) -> LedgerEntry:
    """Write the ledger row `pending` (one more attempt) before any request; the row."""
    if step.supersede is not None:
        ledger.mark_error(step.supersede, "superseded", "the invoice changed before it was sent")
    existing = step.existing
    if existing is None:
        entry = entry_of(step.document, "pending", 1)
        ledger.insert(entry)
        return replace(entry, attempts=0)
    if existing.state == "skipped" and existing.idempotency_key != step.document.key:
        fresh = entry_of(step.document, "pending", 0)
        ledger.replace_unsent(existing, fresh)
        existing = replace(fresh, created_at=existing.created_at)
    ledger.start_attempt(existing)
    return existing


def _record_skip(ledger: Ledger, step: Step, target: str) -> None:
    message = (
        f"no {target} customer for {step.customer_id}: add it with `usage-billing map-customer"
        f" {target} {step.customer_id} <id>`"
    )
    existing = step.existing
    if existing is None:
        ledger.insert(entry_of(step.document, "skipped", 0, message))
    elif existing.state == "skipped" and existing.idempotency_key != step.document.key:
        ledger.replace_unsent(existing, entry_of(step.document, "skipped", 0, message))
    elif existing.state in ("skipped", "failed"):
        ledger.mark_error(existing, existing.state, message)


def push(
    ledger: Ledger,
    target: Target,
    steps: list[Step],
    report: PushReport | None = None,
    advance: Callable[[Step], None] | None = None,
) -> PushReport:
    """Run the steps in order; one failure stops the rest of that invoice, not the run."""
    report = report or PushReport()
    blocked: set[str] = set()
    for step in steps:
        invoice_id = step.document.invoice_id
        if invoice_id in blocked:
            continue
        if step.external_customer is None:
            if step.existing is None or step.existing.state != "pending":
                _record_skip(ledger, step, target.name)
            report.skipped.append(step)
            blocked.add(invoice_id)
            continue
        entry = _prepare(ledger, step)
        job = Job(
            document=step.document,
            customer_external_id=step.external_customer,
            resumed=entry.attempts > 0 or entry.external_id is not None,
            external_id=entry.external_id,
            on_external_id=functools.partial(ledger.record_external_id, entry),
        )
        try:
            external_id = target.push(job)
        except FatalError as error:
            ledger.mark_error(entry, "failed", str(error))
            report.failed.append((step, str(error)))
            blocked.add(invoice_id)
        except RetriableError as error:
            message = f"{error} (retries exhausted; the next run resumes it)"
            ledger.mark_error(entry, "pending", message)
            report.failed.append((step, message))
            blocked.add(invoice_id)
        else:
            ledger.mark_done(entry, external_id)
            report.sent.append(step)
        if advance is not None:
            advance(step)
    return report
