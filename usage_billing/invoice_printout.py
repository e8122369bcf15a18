"""`usage-billing invoices`: each invoice printed as the seed's card (a rich panel)."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from usage_billing import formatting
from usage_billing.line_text import included_tax_note
from usage_billing.marts.figures import (
    line_cells,
    period_text,
    shows_subtotal,
    tax_status_note,
    usage_figures,
)
from usage_billing.marts.model import Invoice
from usage_billing.marts.terms import InvoiceTerms


def terms_block(terms: InvoiceTerms, currency: str) -> Group:
    """Number and dates, the seller ("From") and the buyer ("Bill to") side by side, the amount
    due."""
    if terms.invoice_number:
        heading = (
            f"[bold]Invoice {terms.invoice_number}[/bold]\n"
            f"Issued {terms.issue_date} · due {terms.due_date} (net {terms.payment_terms_days})"
        )
    else:
        heading = f"Not numbered until final · terms net {terms.payment_terms_days}"
    parties = Table.grid(expand=True, padding=(0, 2))
    parties.add_column(ratio=1)
    parties.add_column(ratio=1)
    parties.add_row(
        "\n".join(["[dim]From[/dim]", *terms.seller.lines()]),
        "\n".join(["[dim]Bill to[/dim]", *terms.buyer.lines()]),
    )
    due = f"Amount due: [bold]{formatting.money(terms.amount_due, currency)}[/bold]"
    return Group(heading, parties, due)


def invoice_panel(invoice: Invoice) -> Panel:
    """One invoice as the seed's card: Description / QTY / Rate / Amount, total, effective rate."""
    table = Table(expand=True, show_edge=False)
    table.add_column("Description")
    table.add_column("QTY", justify="right")
    table.add_column("Rate", justify="right")
    table.add_column("Amount", justify="right")
    for line in invoice.charge_lines:
        cells = line_cells(line, invoice)
        table.add_row(cells.description, cells.quantity, cells.rate, cells.amount)
    table.add_section()

    def money(amount: Decimal) -> str:
        return formatting.money(amount, invoice.currency)

    if shows_subtotal(invoice):
        table.add_row("Subtotal", "", "", money(invoice.subtotal))
    if invoice.credits_applied:
        table.add_row("Prepaid credit applied", "", "", f"-{money(invoice.credits_applied)}")
    for line in invoice.lines:
        if line.is_tax:  # a row per rate, as on the page
            cells = line_cells(line, invoice)
            table.add_row(cells.description, "", "", cells.amount)
    table.add_row("[bold]Total[/bold]", "", "", f"[bold]{money(invoice.total)}[/bold]")
    for line in invoice.included_tax_lines:
        table.add_row(f"[dim]{included_tax_note(line, invoice.currency)}[/dim]", "", "", "")
    note = tax_status_note(invoice)
    summaries = [f"[bold]{note}[/bold]"] if note else []
    if invoice.billed_early_note:
        summaries.insert(0, f"[bold]{invoice.billed_early_note}[/bold]")
    for metric in invoice.usage:
        figures = usage_figures(metric, invoice.currency)
        name = invoice.metric_label(
            metric.metric_name, metric.group_value, metric.child_customer_name
        )
        if figures.effective is None:
            summaries.append(f"{name}: no usage")
            continue
        summaries.append(
            f"{name}: {figures.used} → {figures.amount}, effective {figures.effective}"
        )
    plan = invoice.plan_name or invoice.invoice_id
    title = f"[bold]{plan}[/bold] · {invoice.customer_name} · {period_text(invoice)}"
    header = [terms_block(invoice.terms, invoice.currency)] if invoice.terms else []
    return Panel(
        Group(*header, table, *summaries),
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
