"""What the pages show, read from the marts: invoices with their revisions, daily usage and the
live totals of open periods. Only `select`s; every figure arrives computed by the dbt models.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb

from sync import invoice_report
from sync.engine import DuckDBWarehouse, quote_identifier

STATUSES = ("live", "draft", "final", "revised")
PERIOD_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class MartsMissingError(Exception):
    """A mart the pages read is absent: the dbt project has not been built into this schema."""


@dataclass(frozen=True)
class InvoiceFilters:
    """The list's filters; None shows all. `period` is a month (YYYY-MM) of period starts."""

    period: str | None = None
    customer_id: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class InvoiceSummary:
    """One row of the invoice list."""

    invoice_id: str
    customer_id: str
    customer_name: str | None
    plan_name: str | None
    period_start_date: date
    period_end_date: date
    currency: str
    total: Decimal
    status: str
    line_count: int
    revision_number: int | None
    """The current revision's number when the invoice changed after it was final, else None."""

    @property
    def last_day(self) -> date:
        return self.period_end_date - timedelta(days=1)


@dataclass(frozen=True)
class Revision:
    revision_number: int
    status: str
    total: Decimal
    previous_total: Decimal | None
    total_delta: Decimal
    revised_at: datetime


@dataclass(frozen=True)
class DailySeries:
    """A metric's usage per UTC day over `days` (days without a row of metric_usage_daily
    are zero), one series per group_value."""

    metric_name: str
    unit: str
    is_money: bool
    days: list[date]
    groups: dict[str, list[Decimal]]


@dataclass(frozen=True)
class LiveMetric:
    """One row of live_invoice_totals with its metric's unit from billable_usage."""

    metric_name: str
    group_value: str | None
    unit: str
    is_money: bool
    quantity_so_far: Decimal
    amount_so_far: Decimal
    projected_quantity: Decimal | None
    projected_amount: Decimal | None


@dataclass(frozen=True)
class LiveInvoice:
    invoice_id: str
    customer_id: str
    customer_name: str | None
    plan_name: str | None
    period_start: datetime
    period_end: datetime
    period_start_date: date
    period_end_date: date
    currency: str
    total_so_far: Decimal
    as_of_at: datetime
    metrics: list[LiveMetric] = field(default_factory=list)

    @property
    def last_day(self) -> date:
        return self.period_end_date - timedelta(days=1)

    @property
    def elapsed(self) -> Decimal:
        """Share of the period elapsed at the billing clock (0.5 = halfway), exact."""
        whole = (self.period_end - self.period_start) // timedelta(seconds=1)
        elapsed = (self.as_of_at - self.period_start) // timedelta(seconds=1)
        return Decimal(elapsed) / Decimal(whole)


def period_days(start: datetime, end: datetime) -> list[date]:
    """The UTC days a period [start, end) touches: metric_usage_daily counts UTC days."""
    last = (end - timedelta(microseconds=1)).date()
    return [
        start.date() + timedelta(days=offset) for offset in range((last - start.date()).days + 1)
    ]


class MartsReader:
    """Queries of the marts in `schema` over one open DuckDB connection."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, schema: str) -> None:
        self.connection = connection
        self.schema = schema

    def _table(self, name: str) -> str:
        return f"{quote_identifier(self.schema)}.{quote_identifier(name)}"

    def _missing(self, error: duckdb.CatalogException) -> MartsMissingError:
        reason = str(error).splitlines()[0]
        return MartsMissingError(
            f"the marts are not built in schema {self.schema}: run `dbt build` first ({reason})"
        )

    def _rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        try:
            return self.connection.execute(sql, parameters or {}).fetchall()
        except duckdb.CatalogException as error:
            raise self._missing(error) from None

    def _has_table(self, name: str) -> bool:
        return bool(
            self.connection.execute(
                "select count(*) from information_schema.tables"
                " where table_schema = ? and table_name = ?",
                [self.schema, name],
            ).fetchone()[0]  # type: ignore[index]
        )

    def _revised_sql(self) -> str:
        """Invoice id → its current revision number, for invoices changed after they were final
        (a draft's changes are the grace period doing its job; `changed_after_final` is the same
        rule). Empty without the snapshot."""
        if not self._has_table("invoice_revisions"):
            return "select null::varchar as invoice_id, null::integer as revision_number limit 0"
        return f"""
            select invoice_id, max(revision_number) as revision_number
            from {self._table("invoice_revisions")}
            group by invoice_id
            having count(*) filter (where status = 'final' and revision_number > 1) > 0
        """  # noqa: S608 - quoted identifiers, no values

    def invoices(self, filters: InvoiceFilters) -> list[InvoiceSummary]:
        status = filters.status if filters.status in ("live", "draft", "final") else None
        rows = self._rows(
            f"""
            with revised as ({self._revised_sql()})
            select invoices.invoice_id, invoices.customer_id, invoices.customer_name,
                invoices.plan_name, invoices.period_start_date, invoices.period_end_date,
                invoices.currency, invoices.total, invoices.status, invoices.line_count,
                revised.revision_number
            from {self._table("invoices")} as invoices
            left join revised on invoices.invoice_id = revised.invoice_id
            where ($period is null or strftime(invoices.period_start_date, '%Y-%m') = $period)
                and ($customer_id is null or invoices.customer_id = $customer_id)
                and ($status is null or invoices.status = $status)
                and (not $revised or revised.invoice_id is not null)
            order by invoices.period_start_date desc, invoices.customer_id, invoices.invoice_id
            """,  # noqa: S608 - quoted identifiers, values are bound
            {
                "period": filters.period,
                "customer_id": filters.customer_id,
                "status": status,
                "revised": filters.status == "revised",
            },
        )
        return [
            InvoiceSummary(
                invoice_id=str(invoice_id),
                customer_id=str(customer_id),
                customer_name=customer_name,
                plan_name=plan_name,
                period_start_date=start,
                period_end_date=end,
                currency=str(currency),
                total=total,
                status=str(state),
                line_count=int(line_count),
                revision_number=None if revision is None else int(revision),
            )
            for (
                invoice_id,
                customer_id,
                customer_name,
                plan_name,
                start,
                end,
                currency,
                total,
                state,
                line_count,
                revision,
            ) in rows
        ]

    def periods(self) -> list[tuple[str, str]]:
        """(YYYY-MM, "Oct 2022") of the months in which invoice periods start, newest first."""
        rows = self._rows(
            f"""
            select distinct strftime(period_start_date, '%Y-%m') as period,
                strftime(period_start_date, '%b %Y') as label
            from {self._table("invoices")} order by period desc
            """  # noqa: S608 - quoted identifiers
        )
        return [(str(period), str(label)) for period, label in rows]

    def customers(self) -> list[tuple[str, str]]:
        """(customer_id, name) of every customer with an invoice, by name."""
        rows = self._rows(
            f"""
            select distinct customer_id, coalesce(customer_name, customer_id) as name
            from {self._table("invoices")} order by name, customer_id
            """  # noqa: S608 - quoted identifiers
        )
        return [(str(customer_id), str(name)) for customer_id, name in rows]

    def invoice(self, invoice_id: str) -> invoice_report.Invoice | None:
        """One invoice with its lines and usage, as the terminal report reads it."""
        try:
            found = invoice_report.read_invoices(
                DuckDBWarehouse(self.connection), self.schema, invoice_id=invoice_id
            )
        except duckdb.CatalogException as error:
            raise self._missing(error) from None
        return found[0] if found else None

    def revisions(self, invoice_id: str) -> list[Revision]:
        """The invoice's revisions, oldest first; empty when the snapshot has not run."""
        if not self._has_table("invoice_revisions"):
            return []
        rows = self._rows(
            f"""
            select revision_number, status, total, previous_total, total_delta, revised_at
            from {self._table("invoice_revisions")}
            where invoice_id = $invoice_id order by revision_number
            """,  # noqa: S608 - quoted identifiers, values are bound
            {"invoice_id": invoice_id},
        )
        return [Revision(int(number), str(state), *figures) for number, state, *figures in rows]

    def daily_usage(
        self,
        customer_id: str,
        metrics: list[tuple[str, str, bool]],
        start: datetime,
        end: datetime,
    ) -> list[DailySeries]:
        """Each metric's (name, unit, is_money) daily usage by the customer in [start, end)."""
        days = period_days(start, end)
        if not metrics or not days:
            return []
        rows = self._rows(
            f"""
            select metric_name, coalesce(group_value, '') as group_value, usage_date, quantity
            from {self._table("metric_usage_daily")}
            where customer_id = $customer_id
                and list_contains($metrics, metric_name)
                and usage_date between $first_day and $last_day
            order by metric_name, group_value, usage_date
            """,  # noqa: S608 - quoted identifiers, values are bound
            {
                "customer_id": customer_id,
                "metrics": [name for name, _, _ in metrics],
                "first_day": days[0],
                "last_day": days[-1],
            },
        )
        quantities: dict[str, dict[str, dict[date, Decimal]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        for metric_name, group_value, usage_date, quantity in rows:
            quantities[metric_name][group_value][usage_date] = quantity
        series = []
        for name, unit, is_money in metrics:
            groups = quantities.get(name) or {"": {}}
            series.append(
                DailySeries(
                    metric_name=name,
                    unit=unit,
                    is_money=is_money,
                    days=days,
                    groups={
                        group: [by_day.get(day, Decimal(0)) for day in days]
                        for group, by_day in sorted(groups.items())
                    },
                )
            )
        return series

    def as_of(self) -> datetime | None:
        """The billing clock of the last build (billing_periods.as_of_at)."""
        rows = self._rows(
            f"select max(as_of_at) from {self._table('billing_periods')}"  # noqa: S608
        )
        return rows[0][0] if rows else None

    def live_invoices(self, customer_id: str | None = None) -> list[LiveInvoice]:
        """Open periods' invoices with their metrics so far, by customer and invoice."""
        invoices = self._rows(
            f"""
            select invoices.invoice_id, invoices.customer_id, invoices.customer_name,
                invoices.plan_name, invoices.period_start, invoices.period_end,
                invoices.period_start_date, invoices.period_end_date, invoices.currency,
                invoices.total, periods.as_of_at
            from {self._table("invoices")} as invoices
            inner join {self._table("billing_periods")} as periods
                on invoices.invoice_id = periods.invoice_id
            where invoices.status = 'live'
                and ($customer_id is null or invoices.customer_id = $customer_id)
            order by invoices.customer_name, invoices.customer_id, invoices.invoice_id
            """,  # noqa: S608 - quoted identifiers, values are bound
            {"customer_id": customer_id},
        )
        metrics: dict[str, list[LiveMetric]] = defaultdict(list)
        for invoice_id, *metric in self._rows(
            f"""
            select totals.invoice_id, totals.metric_name, totals.group_value, usage.unit,
                usage.is_money, totals.quantity_so_far, totals.amount_so_far,
                totals.projected_quantity, totals.projected_amount
            from {self._table("live_invoice_totals")} as totals
            left join {self._table("billable_usage")} as usage
                on totals.invoice_id = usage.invoice_id
                and totals.metric_name = usage.metric_name
                and totals.group_value is not distinct from usage.group_value
            where ($customer_id is null or totals.customer_id = $customer_id)
            order by totals.invoice_id, totals.metric_name, totals.group_value
            """,  # noqa: S608 - quoted identifiers, values are bound
            {"customer_id": customer_id},
        ):
            name, group_value, unit, is_money, *figures = metric
            metrics[str(invoice_id)].append(
                LiveMetric(str(name), group_value, str(unit or ""), bool(is_money), *figures)
            )
        return [
            LiveInvoice(
                invoice_id=str(invoice_id),
                customer_id=str(customer),
                customer_name=customer_name,
                plan_name=plan_name,
                period_start=start,
                period_end=end,
                period_start_date=start_date,
                period_end_date=end_date,
                currency=str(currency),
                total_so_far=total,
                as_of_at=as_of_at,
                metrics=metrics.get(str(invoice_id), []),
            )
            for (
                invoice_id,
                customer,
                customer_name,
                plan_name,
                start,
                end,
                start_date,
                end_date,
                currency,
                total,
                as_of_at,
            ) in invoices
        ]


def changed_after_final(revisions: list[Revision]) -> bool:
    """The rule of the `revised` filter, for one invoice's revisions."""
    return any(
        revision.status == "final" and revision.revision_number > 1 for revision in revisions
    )


def valid_period(period: str) -> bool:
    return bool(PERIOD_PATTERN.match(period))
