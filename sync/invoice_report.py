"""Invoices and their lines, read from the marts and printed as tables a person can check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from sync import formatting
from sync.engine import Warehouse


@dataclass(frozen=True)
class InvoiceLine:
    line_number: int
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
    quantity: Decimal
    amount: Decimal
    effective_unit_price: Decimal | None
    is_money: bool
    unit: str


@dataclass(frozen=True)
class Invoice:
    invoice_id: str
    customer_name: str | None
    plan_name: str | None
    period_start: datetime
    period_end: datetime
    currency: str
    total: Decimal
    status: str
    lines: list[InvoiceLine]
    usage: list[MetricUsage]


def read_invoices(
    warehouse: Warehouse,
    schema: str,
    customer_id: str | None = None,
    status: str | None = None,
) -> list[Invoice]:
    """Invoices of the marts in `schema`, newest period first, optionally filtered."""
    rows = warehouse.fetch_all(
        f"""
        select invoice_id, customer_name, plan_name, period_start, period_end, currency, total,
            status
        from {warehouse.quote(schema, "invoices")}
        where (? is null or customer_id = ?) and (? is null or status = ?)
        order by period_start desc, customer_id, invoice_id
        """,  # noqa: S608 - the schema is quoted, values are bound
        [customer_id, customer_id, status, status],
    )
    invoices = []
    for invoice_id, customer_name, plan_name, start, end, currency, total, state in rows:
        lines = [
            InvoiceLine(*line)
            for line in warehouse.fetch_all(
                f"""
                select line_number, description, tier, quantity, unit_price, flat_amount, amount,
                    is_percentage
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
                select metric_name, quantity, amount, effective_unit_price, is_money, unit
                from {warehouse.quote(schema, "billable_usage")}
                where invoice_id = ? order by metric_name
                """,  # noqa: S608 - as above
                [invoice_id],
            )
        ]
        invoices.append(
            Invoice(
                invoice_id,
                customer_name,
                plan_name,
                start,
                end,
                currency,
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


def invoice_panel(invoice: Invoice) -> Panel:
    """One invoice as the seed's card: Description / QTY / Rate / Amount, total, effective rate."""
    table = Table(expand=True, show_edge=False)
    table.add_column("Description")
    table.add_column("QTY", justify="right")
    table.add_column("Rate", justify="right")
    table.add_column("Amount", justify="right")
    money_unit = next((metric.unit for metric in invoice.usage if metric.is_money), None)
    for line in invoice.lines:
        rate = _rate(line, invoice.currency)
        if line.flat_amount:
            # A tier's entry fee, or a per-transaction price's fixed fees and limits (which may
            # take off more than they add: "2.9% - €22.85").
            sign = "+" if line.flat_amount > 0 else "-"
            rate += f" {sign} {formatting.money(abs(line.flat_amount), invoice.currency)}"
        table.add_row(
            line.description,
            formatting.quantity(line.quantity, money_unit if line.is_percentage else None),
            rate,
            formatting.money(line.amount, invoice.currency),
        )
    table.add_section()
    table.add_row(
        "[bold]Total[/bold]",
        "",
        "",
        f"[bold]{formatting.money(invoice.total, invoice.currency)}[/bold]",
    )
    summaries = []
    for metric in invoice.usage:
        if metric.effective_unit_price is None:
            summaries.append(f"{metric.metric_name}: no usage")
            continue
        if metric.is_money:
            used = formatting.quantity(metric.quantity, metric.unit)
            effective = formatting.percent(metric.effective_unit_price, places=2)
        else:
            used = f"{formatting.quantity(metric.quantity)} {metric.unit}".strip()
            effective = (
                formatting.unit_rate(
                    formatting.rounded(metric.effective_unit_price, 4), invoice.currency
                )
                + " per unit"
            )
        summaries.append(
            f"{metric.metric_name}: {used} → {formatting.money(metric.amount, invoice.currency)},"
            f" effective {effective}"
        )
    last_day = invoice.period_end - timedelta(microseconds=1)  # period_end is exclusive
    period = f"{invoice.period_start:%d %b %Y} – {last_day:%d %b %Y}"
    plan = invoice.plan_name or invoice.invoice_id
    title = f"[bold]{plan}[/bold] · {invoice.customer_name} · {period}"
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
