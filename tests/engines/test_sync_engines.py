"""The sync on each engine, through that engine's own connector (sync/engine.py): after the demo
is built there, `usage-billing push --to webhook` sends its final invoices to a receiver on
127.0.0.1 and writes the ledger beside the marts; a second push sends nothing; `status` and
`invoices` read them back. What each engine's receiver got must equal DuckDB's, invoice by
invoice (amounts as exact decimals), and the ledger rows must be there, done, on that engine."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from tests.engines.runs import EngineRun
from usage_billing.marts.model import InvoiceVersion

pytestmark = pytest.mark.engines

REFERENCE = "duckdb"
SYNC_ENGINES = ["postgres", "snowflake", "spark"]


def _delivered(run: EngineRun) -> dict[str, InvoiceVersion]:
    """invoice_id → the invoice its `invoice.finalized` event carried."""
    return {
        payload["data"]["invoice_id"]: InvoiceVersion.from_json(
            json.dumps(payload["data"]["invoice"])
        )
        for payload in run.billing.deliveries.values()
    }


def _final_invoices(run: EngineRun) -> dict[str, dict[str, Any]]:
    result = run.scenario("demo")
    assert result["success"], f"the demo did not build on {run.engine}: {result['problems']}"
    return {
        row["invoice_id"]: row
        for row in result["marts"]["usage_billing__invoices"]
        if row["status"] == "final"
    }


@pytest.mark.parametrize("engine", [REFERENCE, *SYNC_ENGINES])
def test_push_and_status_through_the_engines_connector(
    engine_runs: dict[str, EngineRun], engine: str
) -> None:
    run = engine_runs[engine]
    finals = _final_invoices(run)
    assert finals, "the demo has no final invoice to push"
    commands = run.sync()["commands"]
    for name, outcome in commands.items():
        assert outcome["exit_code"] == 0, f"{name} on {engine}:\n{outcome['output']}"

    assert f"webhook: {len(finals)} sent, 0 failed" in commands["push"]["output"]
    delivered = _delivered(run)
    assert sorted(delivered) == sorted(finals)
    for invoice_id, invoice in delivered.items():
        mart = finals[invoice_id]
        assert invoice.total == Decimal(mart["total"]), invoice_id
        assert invoice.content_hash == mart["content_hash"], invoice_id

    assert "0 sent" in commands["push_again"]["output"]
    assert f"{len(finals)} already up to date" in commands["push_again"]["output"]
    assert run.billing.delivery_attempts == len(finals), "the second push sent again"

    ledger = sorted(run.sync()["ledger"], key=lambda row: str(row["invoice_id"]))
    assert [(row["invoice_id"], row["revision"], row["state"]) for row in ledger] == [
        (invoice_id, "0", "done") for invoice_id in sorted(finals)
    ]
    assert all(row["target"] == "webhook" and row["external_id"] for row in ledger)
    assert {row["invoice_id"]: row["content_hash"] for row in ledger} == {
        invoice_id: row["content_hash"] for invoice_id, row in finals.items()
    }
    status = commands["status"]["output"]
    assert "webhook" in status and "done" in status, status
    for invoice_id in finals:
        assert invoice_id in commands["invoices"]["output"]


@pytest.mark.parametrize("engine", SYNC_ENGINES)
def test_pushed_invoices_match_duckdb(engine_runs: dict[str, EngineRun], engine: str) -> None:
    """Every field of every pushed invoice and line, as the receiver decoded it."""
    engine_runs[REFERENCE].sync()
    engine_runs[engine].sync()
    reference, other = _delivered(engine_runs[REFERENCE]), _delivered(engine_runs[engine])
    assert reference, "DuckDB pushed nothing: the comparison would be vacuous"
    assert other == reference
