"""The one reader of the marts: final invoices for the push, invoices with their lines and usage
for the CLI and the pages, and the pages' lists, revisions, daily usage and live totals.

Only `select`s; every figure arrives computed by the dbt models. The pages' queries (list
filters, daily usage, live totals) use DuckDB's SQL, the engine `usage-billing serve` reads.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb

from usage_billing.marts.model import (
    DailySeries,
    Invoice,
    InvoiceLine,
    InvoiceSummary,
    InvoiceVersion,
    Line,
    LiveInvoice,
    LiveMetric,
    MetricUsage,
    Revision,
)
from usage_billing.marts.relations import (
    BILLABLE_USAGE,
    BILLING_PERIODS,
    CUSTOMER_ALIASES,
    ENTITLEMENTS,
    INVOICE_LINES,
    INVOICE_REVISIONS,
    INVOICES,
    ISSUERS,
    LIVE_INVOICE_TOTALS,
    METRIC_USAGE_DAILY,
    MartRelations,
)
from usage_billing.marts.terms import SELLER_COLUMNS, TERMS_COLUMNS, InvoiceTerms, terms_of_row
from usage_billing.warehouse.protocol import Warehouse

STATUSES = ("live", "draft", "final", "revised")
PERIOD_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class InvoiceFilters:
    """The list's filters; None shows all. `period` is a month (YYYY-MM) of period starts."""

    period: str | None = None
    customer_id: str | None = None
    status: str | None = None


def valid_period(period: str) -> bool:
    return bool(PERIOD_PATTERN.match(period))


def changed_after_final(revisions: list[Revision]) -> bool:
    """The rule of the `revised` filter, for one invoice's revisions."""
    return any(
        revision.status == "final" and revision.revision_number > 1 for revision in revisions
    )


def period_days(start: datetime, end: datetime) -> list[date]:
    """The UTC days a period [start, end) touches: metric_usage_daily counts UTC days."""
    last = (end - timedelta(microseconds=1)).date()
    return [
        start.date() + timedelta(days=offset) for offset in range((last - start.date()).days + 1)
    ]


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return datetime.fromisoformat(str(value))


def _decimal(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, float):  # never expected: money columns are decimals
        raise TypeError("money arrived as a float; the marts must hold decimals")
    return Decimal(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class MartsReader:
    """Queries of the marts where `relations` places them, over one open warehouse."""

    def __init__(self, warehouse: Warehouse, relations: MartRelations) -> None:
        self.warehouse = warehouse
        self.relations = relations

    def _table(self, model: str) -> str:
        return self.warehouse.quote(*self.relations[model].parts)

    def _rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.warehouse.fetch_all(sql, parameters)
        except duckdb.CatalogException as error:
            raise self.relations.missing(str(error).splitlines()[0]) from None

    def _has_table(self, model: str) -> bool:
        relation = self.relations[model]
        return bool(self.warehouse.table_columns(relation.schema, relation.table))

    # Numbers, dates and parties (docs/invoices.md).

    def terms(self, invoice_id: str | None = None) -> dict[str, InvoiceTerms]:
        """Invoice id → its number, dates, amount due, seller and buyer; one invoice or all."""
        sellers = {
            str(row[0]): row[1:]
            for row in self._rows(
                f"select issuer_id, {SELLER_COLUMNS} from {self._table(ISSUERS)}"  # noqa: S608
            )
        }
        rows = self._rows(
            f"""
            select {TERMS_COLUMNS}, issuer_id
            from {self._table(INVOICES)}
            where (? is null or invoice_id = ?)
            """,  # noqa: S608 - quoted identifiers, values are bound
            [invoice_id, invoice_id],
        )
        return {
            str(row[0]): terms_of_row(row[:-1], sellers.get(str(row[-1])), _decimal(row[5]))
            for row in rows
        }

    # The push.

    def final_invoices(self) -> list[InvoiceVersion]:
        """Every invoice with status `final`, with its lines in order, by invoice_id."""
        invoices = self._rows(
            f"""
            select invoice_id, customer_id, currency, period_start, period_end, total,
                content_hash, customer_name, plan_name, tax_amount, tax_included, tax_status
            from {self._table(INVOICES)}
            where status = 'final'
            order by invoice_id
            """  # noqa: S608 - quoted identifiers, values are literals
        )
        lines: dict[str, list[Line]] = {}
        for row in self._rows(
            f"""
            select lines.invoice_id, lines.line_number, lines.description, lines.quantity,
                lines.unit_price, lines.flat_amount, lines.amount, lines.is_percentage,
                lines.tier, lines.price_id, lines.metric_name, lines.group_value,
                lines.tier_first_unit, lines.tier_last_unit, lines.metric_display_name,
                lines.metric_unit, lines.line_type, lines.tax_rate_id, lines.tax_amount,
                lines.child_customer_id, lines.child_customer_name
            from {self._table(INVOICE_LINES)} as lines
            join {self._table(INVOICES)} as invoices
                on lines.invoice_id = invoices.invoice_id
            where invoices.status = 'final'
            order by lines.invoice_id, lines.line_number
            """  # noqa: S608 - as above
        ):
            (invoice_id, number, description, quantity, unit_price, flat, amount) = row[:7]
            is_percentage, tier, price_id, metric_name, group_value = row[7:12]
            first_unit, last_unit, display_name, unit, line_type, tax_rate_id, tax = row[12:19]
            child_id, child_name = row[19:]
            lines.setdefault(str(invoice_id), []).append(
                Line(
                    line_number=int(number),
                    description=str(description or f"Line {number}"),
                    quantity=_decimal(quantity),
                    unit_price=_decimal(unit_price),
                    flat_amount=_decimal(flat),
                    amount=_decimal(amount),
                    is_percentage=bool(is_percentage),
                    tier=None if tier is None else int(tier),
                    price_id=_text(price_id),
                    metric_name=_text(metric_name),
                    group_value=_text(group_value),
                    tier_first_unit=None if first_unit is None else _decimal(first_unit),
                    tier_last_unit=None if last_unit is None else _decimal(last_unit),
                    metric_display_name=_text(display_name),
                    metric_unit=_text(unit),
                    line_type=_text(line_type),
                    tax_rate_id=_text(tax_rate_id),
                    tax_amount=None if tax is None else _decimal(tax),
                    child_customer_id=_text(child_id),
                    child_customer_name=_text(child_name),
                )
            )
        terms = self.terms()
        return [
            InvoiceVersion(
                invoice_id=str(invoice_id),
                customer_id=str(customer_id),
                currency=str(currency).upper(),
                period_start=_moment(start),
                period_end=_moment(end),
                total=_decimal(total),
                content_hash=str(content_hash),
                lines=tuple(lines.get(str(invoice_id), [])),
                customer_name=_text(customer_name),
                plan_name=_text(plan_name),
                terms=terms.get(str(invoice_id)),
                tax_amount=_decimal(tax_amount),
                tax_included=_decimal(tax_included),
                tax_status=str(tax_status),
            )
            for (
                invoice_id,
                customer_id,
                currency,
                start,
                end,
                total,
                content_hash,
                customer_name,
                plan_name,
                tax_amount,
                tax_included,
                tax_status,
            ) in invoices
        ]

    # The CLI's invoices and the invoice page.

    def invoices(
        self,
        customer_id: str | None = None,
        status: str | None = None,
        invoice_id: str | None = None,
    ) -> list[Invoice]:
        """Invoices with their lines and usage, newest period first, optionally filtered."""
        rows = self._rows(
            f"""
            select invoice_id, customer_id, customer_name, plan_name, period_start, period_end,
                period_start_date, period_end_date, currency, subtotal, credits_applied, total,
                status, tax_amount, tax_included, tax_status, threshold_of_invoice_id
            from {self._table(INVOICES)}
            where (? is null or customer_id = ?) and (? is null or status = ?)
                and (? is null or invoice_id = ?)
            order by period_start desc, customer_id, invoice_id
            """,  # noqa: S608 - quoted identifiers, values are bound
            [customer_id, customer_id, status, status, invoice_id, invoice_id],
        )
        terms = self.terms(invoice_id)
        invoices = []
        for row in rows:
            lines = [
                InvoiceLine(*line)
                for line in self._rows(
                    f"""
                    select line_number, line_type, description, tier, quantity, unit_price,
                        flat_amount, amount, is_percentage, metric_name, group_value,
                        tier_first_unit, tier_last_unit, metric_display_name, metric_unit,
                        tax_rate_id, tax_amount, child_customer_id, child_customer_name
                    from {self._table(INVOICE_LINES)}
                    where invoice_id = ? order by line_number
                    """,  # noqa: S608 - as above
                    [row[0]],
                )
            ]
            usage = [
                MetricUsage(*metric)
                for metric in self._rows(
                    f"""
                    select metric_name, group_value, quantity, amount, effective_unit_price,
                        is_money, unit, child_customer_name
                    from {self._table(BILLABLE_USAGE)}
                    where invoice_id = ?
                    order by metric_name, group_value, coalesce(child_customer_id, '')
                    """,  # noqa: S608 - as above
                    [row[0]],
                )
            ]
            (invoice_id, customer, customer_name, plan_name, start, end) = row[:6]
            (start_date, end_date, currency, subtotal, credits, total, state) = row[6:13]
            tax_amount, tax_included, tax_status, threshold_of = row[13:]
            invoice = Invoice(
                invoice_id=invoice_id,
                customer_id=customer,
                customer_name=customer_name,
                plan_name=plan_name,
                period_start=start,
                period_end=end,
                period_start_date=start_date,
                period_end_date=end_date,
                currency=currency,
                subtotal=subtotal,
                credits_applied=credits,
                total=total,
                status=state,
                lines=lines,
                usage=usage,
                tax_amount=_decimal(tax_amount),
                tax_included=_decimal(tax_included),
                tax_status=str(tax_status),
                threshold_of_invoice_id=_text(threshold_of),
            )
            invoices.append(replace(invoice, terms=terms.get(invoice.invoice_id)))
        return invoices

    def invoice(self, invoice_id: str) -> Invoice | None:
        """One invoice with its lines and usage."""
        found = self.invoices(invoice_id=invoice_id)
        return found[0] if found else None

    # The pages.

    def _revised_sql(self) -> str:
        """Invoice id → its current revision number, for invoices changed after they were final
        (a draft's changes are the grace period doing its job; `changed_after_final` is the same
        rule). Empty without the snapshot."""
        if not self._has_table(INVOICE_REVISIONS):
            return "select null::varchar as invoice_id, null::integer as revision_number limit 0"
        return f"""
            select invoice_id, max(revision_number) as revision_number
            from {self._table(INVOICE_REVISIONS)}
            group by invoice_id
            having count(*) filter (where status = 'final' and revision_number > 1) > 0
        """  # noqa: S608 - quoted identifiers, no values

    def summaries(self, filters: InvoiceFilters) -> list[InvoiceSummary]:
        """The invoice list's rows, newest period first."""
        status = filters.status if filters.status in ("live", "draft", "final") else None
        rows = self._rows(
            f"""
            with revised as ({self._revised_sql()})
            select invoices.invoice_id, invoices.customer_id, invoices.customer_name,
                invoices.plan_name, invoices.period_start_date, invoices.period_end_date,
                invoices.currency, invoices.total, invoices.status, invoices.line_count,
                revised.revision_number
            from {self._table(INVOICES)} as invoices
            left join revised on invoices.invoice_id = revised.invoice_id
            where (? is null or strftime(invoices.period_start_date, '%Y-%m') = ?)
                and (? is null or invoices.customer_id = ?)
                and (? is null or invoices.status = ?)
                and (not ? or revised.invoice_id is not null)
            order by invoices.period_start_date desc, invoices.customer_id, invoices.invoice_id
            """,  # noqa: S608 - quoted identifiers, values are bound
            [
                filters.period,
                filters.period,
                filters.customer_id,
                filters.customer_id,
                status,
                status,
                filters.status == "revised",
            ],
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
            from {self._table(INVOICES)} order by period desc
            """  # noqa: S608 - quoted identifiers
        )
        return [(str(period), str(label)) for period, label in rows]

    def customers(self) -> list[tuple[str, str]]:
        """(customer_id, name) of every customer with an invoice, by name."""
        rows = self._rows(
            f"""
            select distinct customer_id, coalesce(customer_name, customer_id) as name
            from {self._table(INVOICES)} order by name, customer_id
            """  # noqa: S608 - quoted identifiers
        )
        return [(str(customer_id), str(name)) for customer_id, name in rows]

    def revisions(self, invoice_id: str) -> list[Revision]:
        """The invoice's revisions, oldest first; empty when the snapshot has not run."""
        if not self._has_table(INVOICE_REVISIONS):
            return []
        rows = self._rows(
            f"""
            select revision_number, status, total, previous_total, total_delta, revised_at
            from {self._table(INVOICE_REVISIONS)}
            where invoice_id = ? order by revision_number
            """,  # noqa: S608 - quoted identifiers, values are bound
            [invoice_id],
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
            from {self._table(METRIC_USAGE_DAILY)}
            where customer_id = ?
                and list_contains(?, metric_name)
                and usage_date between ? and ?
            order by metric_name, group_value, usage_date
            """,  # noqa: S608 - quoted identifiers, values are bound
            [customer_id, [name for name, _, _ in metrics], days[0], days[-1]],
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
            f"select max(as_of_at) from {self._table(BILLING_PERIODS)}"  # noqa: S608
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
            from {self._table(INVOICES)} as invoices
            inner join {self._table(BILLING_PERIODS)} as periods
                on invoices.invoice_id = periods.invoice_id
            where invoices.status = 'live'
                and (? is null or invoices.customer_id = ?)
            order by invoices.customer_name, invoices.customer_id, invoices.invoice_id
            """,  # noqa: S608 - quoted identifiers, values are bound
            [customer_id, customer_id],
        )
        metrics: dict[str, list[LiveMetric]] = defaultdict(list)
        for invoice_id, *metric in self._rows(
            f"""
            select totals.invoice_id, totals.metric_name, usage.metric_display_name,
                totals.group_value, usage.unit, usage.is_money, totals.quantity_so_far,
                totals.amount_so_far, totals.projected_quantity, totals.projected_amount
            from {self._table(LIVE_INVOICE_TOTALS)} as totals
            left join {self._table(BILLABLE_USAGE)} as usage
                on totals.invoice_id = usage.invoice_id
                and totals.metric_name = usage.metric_name
                and totals.group_value is not distinct from usage.group_value
            where (? is null or totals.customer_id = ?)
            order by totals.invoice_id, totals.metric_name, totals.group_value
            """,  # noqa: S608 - quoted identifiers, values are bound
            [customer_id, customer_id],
        ):
            name, display_name, group_value, unit, is_money, *figures = metric
            metrics[str(invoice_id)].append(
                LiveMetric(
                    str(name),
                    str(display_name or name),
                    group_value,
                    str(unit or ""),
                    bool(is_money),
                    *figures,
                )
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

    # The entitlements endpoint (usage_billing/entitlements).

    def entitlements(self) -> list[tuple[Any, ...]]:
        """Every row of usage_billing__entitlements, by customer, metric and period; the
        columns are `ENTITLEMENT_COLUMNS`."""
        return self._rows(
            f"select {', '.join(ENTITLEMENT_COLUMNS)} from {self._table(ENTITLEMENTS)}"  # noqa: S608
            " order by customer_id, metric_name, period_start, invoice_id"
        )

    def customer_aliases(self) -> list[tuple[str, str]]:
        """(alias, customer_id) of every alias events name customers by."""
        rows = self._rows(
            f"select customer_alias, customer_id from {self._table(CUSTOMER_ALIASES)}"  # noqa: S608
        )
        return [(str(alias), str(customer_id)) for alias, customer_id in rows]


ENTITLEMENT_COLUMNS = (
    "customer_id",
    "limit_id",
    "metric_name",
    "metric_display_name",
    "unit",
    "description",
    "invoice_id",
    "period_start",
    "period_end",
    "as_of_at",
    "is_measured",
    "used_quantity",
    "limit_quantity",
    "journal_rule",
)
