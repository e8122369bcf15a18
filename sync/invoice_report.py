"""Invoices and their lines, read from the marts and printed as tables a person can check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from sync import formatting
from sync.engine import Warehouse


@dataclass(frozen=True)
class InvoiceLine:
    line_number: int
    line_type: str
    description: str
    tier: int | None
    quantity: Decimal
    unit_price: Decimal
    flat_amount: Decimal
    amount: Decimal
    is_percentage: bool


@dataclass(frozen=True)
class MetricUsage:
    metric_name: str
    group_value: str | None
    quantity: Decimal
    amount: Decimal
    effective_unit_price: Decimal | None
    is_money: bool
    unit: str


@dataclass(frozen=True)
class Invoice:
    invoice_id: str
    customer_id: str
    customer_name: str | None
    plan_name: str | None
    period_start: datetime
    period_end: datetime
    period_start_date: date
    period_end_date: date
    currency: str
    subtotal: Decimal
    credits_applied: Decimal
    total: Decimal
    status: str
    lines: list[InvoiceLine]
    usage: list[MetricUsage]

    @property
    def last_day(self) -> date:
        """The period's last local day (period_end_date is the first day after it)."""
        return self.period_end_date - timedelta(days=1)

    @property
    def money_unit(self) -> str | None:
        """The currency of the invoice's money metric, in which its percentage lines count."""
        return next((metric.unit for metric in self.usage if metric.is_money), None)


@dataclass(frozen=True)
class LineCells:
    """One invoice line as the card's Description / QTY / Rate / Amount text."""

    description: str
    quantity: str
    rate: str
    amount: str


@dataclass(frozen=True)
class UsageFigures:
    """A metric's usage on an invoice, as text: what was used, what it cost, the effective rate."""

    used: str
    amount: str
    effective: str | None


def read_invoices(
    warehouse: Warehouse,
    schema: str,
    customer_id: str | None = None,
    status: str | None = None,
    invoice_id: str | None = None,
) -> list[Invoice]:
    """Invoices of the marts in `schema`, newest period first, optionally filtered."""
    rows = warehouse.fetch_all(
        f"""
        select invoice_id, customer_id, customer_name, plan_name, period_start, period_end,
            period_start_date, period_end_date, currency, subtotal, credits_applied, total, status
        from {warehouse.quote(schema, "invoices")}
        where (? is null or customer_id = ?) and (? is null or status = ?)
            and (? is null or invoice_id = ?)
        order by period_start desc, customer_id, invoice_id
        """,  # noqa: S608 - the schema is quoted, values are bound
        [customer_id, customer_id, status, status, invoice_id, invoice_id],
    )
    invoices = []
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
        subtotal,
        credits_applied,
        total,
        state,
    ) in rows:
        lines = [
            InvoiceLine(*line)
            for line in warehouse.fetch_all(
                f"""
                select line_number, line_type, description, tier, quantity, unit_price,
                    flat_amount, amount, is_percentage
                from {warehouse.quote(schema, "invoice_lines")}
                where invoice_id = ? order by line_number
                """,  # noqa: S608 - as above
                [invoice_id],
            )
        ]
        usage = [
            MetricUsage(*metric)
            for metric in warehouse.fetch_all(
                f"""
                select metric_name, group_value, quantity, amount, effective_unit_price, is_money,
                    unit
                from {warehouse.quote(schema, "billable_usage")}
                where invoice_id = ? order by metric_name, group_value
                """,  # noqa: S608 - as above
                [invoice_id],
            )
        ]
        invoices.append(
            Invoice(
                invoice_id,
                customer,
                customer_name,
                plan_name,
                start,
                end,
                start_date,
                end_date,
                currency,
                subtotal,
                credits_applied,
                total,
                state,
                lines,
                usage,
            )
        )
    return invoices


def _rate(line: InvoiceLine, currency: str) -> str:
    if line.is_percentage:
        return formatting.percent(line.unit_price)
    return formatting.unit_rate(line.unit_price, currency)


# Lines that settle an amount rather than price a quantity: their QTY (1) and rate (the amount
# itself) would only repeat the Amount column. A late-usage adjustment is one: the difference a
# closed period's late usage makes (docs/closing-periods.md).
ADJUSTMENT_LINE_TYPES = frozenset(
    {
        "minimum_true_up",
        "maximum_discount",
        "commitment_true_up",
        "late_usage_adjustment",
        "credit",
    }
)


def line_cells(line: InvoiceLine, invoice: Invoice) -> LineCells:
    """A line's text on the card; the terminal and the web pages print the same."""
    amount = formatting.money(line.amount, invoice.currency)
    if line.line_type in ADJUSTMENT_LINE_TYPES:
        return LineCells(line.description, "", "", amount)
    rate = _rate(line, invoice.currency)
    if line.flat_amount:
        # A tier's entry fee, or a per-transaction price's fixed fees and limits (which may
        # take off more than they add: "2.9% - €22.85").
        sign = "+" if line.flat_amount > 0 else "-"
        rate += f" {sign} {formatting.money(abs(line.flat_amount), invoice.currency)}"
    return LineCells(
        description=line.description,
        quantity=formatting.quantity(
            line.quantity, invoice.money_unit if line.is_percentage else None
        ),
        rate=rate,
        amount=amount,
    )


def usage_figures(metric: MetricUsage, currency: str) -> UsageFigures:
    """A metric's usage, amount and effective rate ($0.1198 per unit, 0.48%) as text."""
    if metric.is_money:
        used = formatting.quantity(metric.quantity, metric.unit)
    else:
        used = f"{formatting.quantity(metric.quantity)} {metric.unit}".strip()
    effective = None
    if metric.effective_unit_price is not None:
        if metric.is_money:
            effective = formatting.percent(metric.effective_unit_price, places=2)
        else:
            effective = (
                formatting.unit_rate(formatting.rounded(metric.effective_unit_price, 4), currency)
                + " per unit"
            )
    return UsageFigures(used, formatting.money(metric.amount, currency), effective)


def period_text(invoice: Invoice) -> str:
    """The period's local days, first to last: 01 Oct 2022 – 31 Oct 2022."""
    return f"{invoice.period_start_date:%d %b %Y} – {invoice.last_day:%d %b %Y}"


def invoice_panel(invoice: Invoice) -> Panel:
    """One invoice as the seed's card: Description / QTY / Rate / Amount, total, effective rate."""
    table = Table(expand=True, show_edge=False)
    table.add_column("Description")
    table.add_column("QTY", justify="right")
    table.add_column("Rate", justify="right")
    table.add_column("Amount", justify="right")
    for line in invoice.lines:
        cells = line_cells(line, invoice)
        table.add_row(cells.description, cells.quantity, cells.rate, cells.amount)
    table.add_section()
    table.add_row(
        "[bold]Total[/bold]",
        "",
        "",
        f"[bold]{formatting.money(invoice.total, invoice.currency)}[/bold]",
    )
    summaries = []
    for metric in invoice.usage:
        figures = usage_figures(metric, invoice.currency)
        if figures.effective is None:
            summaries.append(f"{metric.metric_name}: no usage")
            continue
        summaries.append(
            f"{metric.metric_name}: {figures.used} → {figures.amount},"
            f" effective {figures.effective}"
        )
    plan = invoice.plan_name or invoice.invoice_id
    title = f"[bold]{plan}[/bold] · {invoice.customer_name} · {period_text(invoice)}"
    return Panel(
        Group(table, *summaries),
        title=title,
        subtitle=f"{invoice.invoice_id} · {invoice.status}",
        expand=False,
        width=100,
    )


def print_invoices(invoices: list[Invoice], console: Console | None = None) -> None:
    console = console or Console()
    if not invoices:
        console.print("No invoices: run `dbt build` first, or widen the filters.")
    for invoice in invoices:
        console.print(invoice_panel(invoice))
