"""The pricing property check, shared by the DuckDB test (tests/pricing/test_pricing_properties.py)
and the portability suite (tests/engines/test_pricing_oracle.py): which cases a run draws, and
how the marts a build of them wrote are held to the oracle, to the cent.

The seed is chosen once per pytest process (or read from USAGE_BILLING_PROPERTY_SEED) and handed
to the portability suite's runners in their environment. A seed replays the draws of a process
that loaded the same modules (hypothesis biases its draws with constants found in them), so the
runners hand back the cases they drew rather than the test drawing them again."""

from __future__ import annotations

import os
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from hypothesis import strategies as st

from tests.support.pricing_cases import (
    Case,
    calendar_cases,
    compact_repr,
    credit_cases,
    draw_cases,
    expected,
    usage_cases,
)
from tests.support.pricing_regressions import REGRESSIONS
from tests.support.warehouse_scenario import plain

SEED_VARIABLE = "USAGE_BILLING_PROPERTY_SEED"
SEED = int(os.environ.get(SEED_VARIABLE) or random.randrange(2**32))

# What a DuckDB run draws of each kind, by name prefix: usage prices (u), calendars (c) and
# credit set-ups (k). Each kind has its own seed (SEED, SEED + 1, SEED + 2).
DRAWN: dict[str, tuple[st.SearchStrategy[Case], int]] = {
    "u": (usage_cases, 2000),
    "c": (calendar_cases, 300),
    "k": (credit_cases, 200),
}
REGRESSION_PREFIX = "r"
COMPARED_MARTS = (
    "usage_billing__invoices",
    "usage_billing__invoice_lines",
    "usage_billing__credit_balances",
)


def property_cases(seed: int, share: float = 1.0) -> list[Case]:
    """`share` of DRAWN's count of each kind, drawn from `seed`, then every regression case
    (named r0, r1, …)."""
    drawn = [
        case
        for offset, (prefix, (strategy, count)) in enumerate(DRAWN.items())
        for case in draw_cases(strategy, round(count * share), prefix, seed + offset)
    ]
    regressions = [
        replace(case, name=f"{REGRESSION_PREFIX}{number}")
        for number, case in enumerate(REGRESSIONS)
    ]
    return [*drawn, *regressions]


def _case_of(key: str) -> str:
    """The case an invoice or grant belongs to: ids are prefixed by the case's name."""
    return key.split("_", 1)[0]


def _by_case(rows: Sequence[Mapping[str, Any]], key: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Rows as plain values (runner.plain's form), by case name, then by `key`."""
    result: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in rows:
        plain_row = {column: plain(value) for column, value in row.items()}
        result[_case_of(str(row[key]))][str(row[key])] = plain_row
    return result


def _invoice_row(row: Mapping[str, Any]) -> tuple[Any, ...]:
    columns = ("period_start", "period_end", "status", "subtotal", "credits_applied")
    columns += ("tax_amount", "tax_included", "total")
    return tuple(row[column] for column in columns)


def _line_row(row: Mapping[str, Any]) -> tuple[Any, ...]:
    columns = (
        *("line_type", "price_id", "credit_grant_id", "description", "tier", "quantity"),
        *("unit_price", "amount", "is_percentage", "tax_rate_id", "tax_amount"),
    )
    return tuple(row[column] for column in columns)


def _balance_row(row: Mapping[str, Any]) -> tuple[Any, ...]:
    columns = ("used_amount", "rolled_over_amount", "expired_amount", "remaining_amount", "status")
    return tuple(row[column] for column in columns)


def problems_by_case(
    cases: Sequence[Case], marts: Mapping[str, Sequence[Mapping[str, Any]]]
) -> dict[str, list[str]]:
    """Hold the marts of one build of `cases` (mart name → rows as column → value, in any order,
    native or as runner.plain left them) to the oracle; case name → what differs. Values are
    compared as exact decimal text, so 12.30 and 12.3 agree but 12.30 and 12.31 do not."""
    invoices = _by_case(marts["usage_billing__invoices"], "invoice_id")
    balances = _by_case(marts["usage_billing__credit_balances"], "grant_id")
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in marts["usage_billing__invoice_lines"]:
        lines[str(row["invoice_id"])].append({key: plain(value) for key, value in row.items()})
    for rows in lines.values():
        rows.sort(key=lambda row: int(row["line_number"]))
    problems: dict[str, list[str]] = defaultdict(list)
    names = {case.name for case in cases}
    for stray in sorted(set(invoices) - names):
        problems[stray].append(f"invoices of no case drawn: {sorted(invoices[stray])}")
    for case in cases:
        want = expected(case)
        got = {key: _invoice_row(row) for key, row in invoices.get(case.name, {}).items()}
        if set(got) != set(want.invoices):
            problems[case.name].append(
                f"invoices {sorted(got)} != expected {sorted(want.invoices)}"
            )
        for invoice_id, invoice in want.invoices.items():
            wanted = tuple(plain(value) for value in invoice)
            if invoice_id in got and got[invoice_id] != wanted:
                problems[case.name].append(
                    f"{invoice_id}: (start, end, status, subtotal, credits, total)"
                    f" {got[invoice_id]} != expected {wanted}"
                )
            got_lines = [_line_row(row) for row in lines.get(invoice_id, [])]
            wanted_lines = [tuple(map(plain, line)) for line in want.lines[invoice_id]]
            if got_lines != wanted_lines:
                problems[case.name].append(
                    f"{invoice_id} lines:\n    got      {got_lines}\n    expected {wanted_lines}"
                )
        got_balances = balances.get(case.name, {})
        for grant_id, balance in want.balances.items():
            actual = _balance_row(got_balances[grant_id]) if grant_id in got_balances else None
            wanted = tuple(map(plain, balance))
            if actual != wanted:
                problems[case.name].append(
                    f"{grant_id}: (used, rolled over, expired, remaining, status)"
                    f" {actual} != expected {wanted}"
                )
    return dict(problems)


def failure_report(
    cases: Sequence[Case], problems: Mapping[str, list[str]], seed: int, keep: Sequence[Case]
) -> str:
    """How many cases differ, the seed that replays the run, the first few cases' differences,
    and `keep` (failing cases, shrunk where possible) as source to paste into REGRESSIONS."""
    report = [
        f"{len(problems)} of {len(cases)} cases differ from the oracle;"
        f" replay with {SEED_VARIABLE}={seed}."
    ]
    report += [f"{name}: " + "\n  ".join(problems[name]) for name in list(problems)[:5]]
    report.append("To keep in REGRESSIONS (tests/support/pricing_regressions.py):")
    report += [f"    {compact_repr(case)}," for case in keep]
    return "\n".join(report)
