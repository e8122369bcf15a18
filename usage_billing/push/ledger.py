"""The ledger of pushes, `invoice_sync_log`, and the customer mapping, `customer_external_ids`.

Both tables live in the warehouse (schema: `USAGE_BILLING_SYNC_SCHEMA`, default the profile's
schema, beside the marts) and are created when absent. One ledger row per document pushed to
a target: (target, invoice_id, revision) is its key; revision 0 is the invoice, 1, 2, ... its
amendments. A row is written `pending` before the first request and `done` after the last, so
a crash anywhere leaves a `pending` row that the next run resumes with the same idempotency
key. States:

    pending   in flight, or interrupted: resumed first by the next run, whatever changed since
    done      at the target; external_id is the target's id of the document
    failed    refused by the target (4xx); retried by the next run while the content is current
    skipped   not sent: the customer has no external id for the target
    superseded  a failed or skipped row whose invoice changed since; a new revision replaces it

Every statement commits on its own (no transaction spans a request).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from usage_billing.warehouse.protocol import Warehouse

LEDGER_TABLE = "invoice_sync_log"
MAPPING_TABLE = "customer_external_ids"

LEDGER_COLUMNS = (
    ("target", "varchar not null"),
    ("invoice_id", "varchar not null"),
    ("revision", "integer not null"),
    ("kind", "varchar not null"),
    ("content_hash", "varchar not null"),
    ("previous_content_hash", "varchar"),
    ("idempotency_key", "varchar not null"),
    ("external_id", "varchar"),
    ("state", "varchar not null"),
    ("attempts", "integer not null"),
    ("error", "varchar"),
    ("payload", "varchar not null"),
    ("previous_payload", "varchar"),
    ("created_at", "timestamp not null"),
    ("updated_at", "timestamp not null"),
    ("done_at", "timestamp"),
)
MAPPING_COLUMNS = (
    ("target", "varchar not null"),
    ("customer_id", "varchar not null"),
    ("external_id", "varchar not null"),
    ("updated_at", "timestamp not null"),
)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class LedgerEntry:
    target: str
    invoice_id: str
    revision: int
    kind: str
    content_hash: str
    previous_content_hash: str | None
    idempotency_key: str
    external_id: str | None
    state: str
    attempts: int
    error: str | None
    payload: str
    previous_payload: str | None
    created_at: datetime
    updated_at: datetime
    done_at: datetime | None


class Ledger:
    """Reads and writes the two sync tables through the `Warehouse` interface."""

    def __init__(self, warehouse: Warehouse, schema: str) -> None:
        self.warehouse = warehouse
        self.schema = schema
        self.table = warehouse.quote(schema, LEDGER_TABLE)
        self.mapping = warehouse.quote(schema, MAPPING_TABLE)

    def ensure_tables(self) -> None:
        self.warehouse.create_table(
            self.schema, LEDGER_TABLE, LEDGER_COLUMNS, ["target", "invoice_id", "revision"]
        )
        self.warehouse.create_table(
            self.schema, MAPPING_TABLE, MAPPING_COLUMNS, ["target", "customer_id"]
        )

    def exists(self) -> bool:
        return bool(self.warehouse.table_columns(self.schema, LEDGER_TABLE))

    # Ledger rows.

    def entries(self, target: str | None = None) -> list[LedgerEntry]:
        names = ", ".join(name for name, _ in LEDGER_COLUMNS)
        where = "where target = ?" if target else ""
        rows = self.warehouse.fetch_all(
            f"select {names} from {self.table} {where} order by target, invoice_id, revision",  # noqa: S608
            [target] if target else [],
        )
        return [LedgerEntry(*row) for row in rows]

    def insert(self, entry: LedgerEntry) -> None:
        names = [name for name, _ in LEDGER_COLUMNS]
        self.warehouse.execute(
            f"insert into {self.table} ({', '.join(names)})"  # noqa: S608 - names are ours
            f" values ({', '.join('?' for _ in names)})",
            [getattr(entry, name) for name in names],
        )

    def _update(self, entry: LedgerEntry, assignments: dict[str, Any]) -> None:
        assignments = {**assignments, "updated_at": _now()}
        sets = ", ".join(f"{name} = ?" for name in assignments)
        self.warehouse.execute(
            f"update {self.table} set {sets}"  # noqa: S608 - names are ours, values bound
            " where target = ? and invoice_id = ? and revision = ?",
            [*assignments.values(), entry.target, entry.invoice_id, entry.revision],
        )

    def start_attempt(self, entry: LedgerEntry) -> None:
        """Mark the row pending with one more attempt, before any request."""
        self._update(entry, {"state": "pending", "attempts": entry.attempts + 1})

    def record_external_id(self, entry: LedgerEntry, external_id: str) -> None:
        """Remember the target's id as soon as it exists, so a resume continues that document."""
        self._update(entry, {"external_id": external_id})

    def mark_done(self, entry: LedgerEntry, external_id: str | None) -> None:
        self._update(
            entry,
            {"state": "done", "external_id": external_id, "error": None, "done_at": _now()},
        )

    def mark_error(self, entry: LedgerEntry, state: str, error: str) -> None:
        self._update(entry, {"state": state, "error": error[:2000]})

    def replace_unsent(self, entry: LedgerEntry, replacement: LedgerEntry) -> None:
        """Rewrite a row nothing was sent for (skipped) with the current content."""
        self._update(
            entry,
            {
                "kind": replacement.kind,
                "content_hash": replacement.content_hash,
                "previous_content_hash": replacement.previous_content_hash,
                "idempotency_key": replacement.idempotency_key,
                "payload": replacement.payload,
                "previous_payload": replacement.previous_payload,
                "state": replacement.state,
                "error": replacement.error,
            },
        )

    def summary(self) -> list[tuple[Any, ...]]:
        """(target, state, documents, invoices, last update) per target and state."""
        return self.warehouse.fetch_all(
            f"""
            select target, state, count(*), count(distinct invoice_id), max(updated_at)
            from {self.table} group by target, state order by target, state
            """  # noqa: S608 - the name is ours
        )

    # Customer mapping.

    def customer_external_ids(self, target: str) -> dict[str, str]:
        rows = self.warehouse.fetch_all(
            f"select customer_id, external_id from {self.mapping} where target = ?",  # noqa: S608
            [target],
        )
        return {str(customer): str(external) for customer, external in rows}

    def map_customers(self, target: str, pairs: Iterable[tuple[str, str]]) -> int:
        count = 0
        for customer_id, external_id in pairs:
            self.warehouse.execute(
                f"delete from {self.mapping} where target = ? and customer_id = ?",  # noqa: S608
                [target, customer_id],
            )
            self.warehouse.execute(
                f"insert into {self.mapping} values (?, ?, ?, ?)",  # noqa: S608
                [target, customer_id, external_id, _now()],
            )
            count += 1
        return count
