"""The `usage-billing` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sync import demo_events, invoice_report
from sync.warehouse import connect, load_target

app = typer.Typer(
    pretty_exceptions_enable=False,
    help="Warehouse-native usage billing: load events, show and push invoices.",
)
console = Console()

ProfilesDir = Annotated[
    Path | None, typer.Option(help="Directory of profiles.yml (default: as dbt looks for it).")
]
Target = Annotated[str | None, typer.Option(help="Profile target (default: the profile's).")]


@app.command("demo-events")
def demo_events_command(profiles_dir: ProfilesDir = None, target: Target = None) -> None:
    """Write the demo's raw events (acme_corp, October 2022) into the raw events table."""
    warehouse = load_target(profiles_dir, target)
    with connect(warehouse) as connection:
        written = demo_events.write_raw_events(connection, demo_events.demo_events())
    console.print(f"Wrote {written} demo events to raw.usage_events in {warehouse.path}")


@app.command("invoices")
def invoices_command(
    profiles_dir: ProfilesDir = None,
    target: Target = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer_id.")] = None,
    status: Annotated[str | None, typer.Option(help="Only live, draft or final.")] = None,
) -> None:
    """Print invoices and their lines from the marts."""
    warehouse = load_target(profiles_dir, target)
    with connect(warehouse) as connection:
        invoices = invoice_report.read_invoices(connection, warehouse.schema, customer, status)
    invoice_report.print_invoices(invoices, console)
