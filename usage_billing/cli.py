"""The `usage-billing` command line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from usage_billing.dbt_project import DbtProject, load_project
from usage_billing.errors import ConfigError, SyncError
from usage_billing.events import demo
from usage_billing.events.csv_load import load_csv
from usage_billing.events.csv_load.remote import load_csv_remote
from usage_billing.events.remote_table import check_load_engine
from usage_billing.events.table import events_table
from usage_billing.invoice_pdf import find_chromium, write_pdfs
from usage_billing.invoice_printout import print_invoices
from usage_billing.marts.reader import MartsReader, valid_period
from usage_billing.marts.relations import MartsMissingError, mart_relations
from usage_billing.push.alerts import AlertReport, plan_alerts, push_alerts, read_crossings
from usage_billing.push.ledger import Ledger
from usage_billing.push.run import PushReport, Step, plan, push
from usage_billing.push.targets.registry import (
    TARGETS,
    describe,
    make_target,
    needs_customer_mapping,
)
from usage_billing.push.targets.webhook import WebhookTarget
from usage_billing.settings import load_api_settings, load_settings
from usage_billing.warehouse.duckdb import DuckDBWarehouse, connect_duckdb
from usage_billing.warehouse.engines import open_warehouse
from usage_billing.warehouse.profile import ProfileError, WarehouseTarget, load_target

app = typer.Typer(
    pretty_exceptions_enable=False,
    help="Warehouse-native usage billing: load events, show and push invoices.",
)
console = Console()
errors = Console(stderr=True)

ProfilesDir = Annotated[
    Path | None, typer.Option(help="Directory of profiles.yml (default: as dbt looks for it).")
]
Profile = Annotated[
    str | None, typer.Option(help="Profile of profiles.yml (default: dbt_project.yml's).")
]
Target = Annotated[str | None, typer.Option(help="Profile target (default: the profile's).")]
ProjectDir = Annotated[
    Path | None,
    typer.Option(
        help="Directory of dbt_project.yml: its profile, raw events vars and the manifest of"
        " its last build (default: .)."
    ),
]


def _fail(error: Exception) -> typer.Exit:
    errors.print(f"[red]error:[/red] {error}", highlight=False)
    return typer.Exit(1)


def _target(
    project: DbtProject, profiles_dir: Path | None, profile: str | None, target: str | None
) -> WarehouseTarget:
    """The target dbt builds the project on: `--profile`, else the one dbt_project.yml names."""
    return load_target(profiles_dir, target, profile or project.profile)


def _duckdb_target(
    project: DbtProject,
    profiles_dir: Path | None,
    profile: str | None,
    target: str | None,
    command: str,
    why: str,
) -> WarehouseTarget:
    """The project's target, which `command` needs to be DuckDB (`why` says why)."""
    warehouse_target = _target(project, profiles_dir, profile, target)
    if warehouse_target.type != "duckdb":
        raise ProfileError(
            f"`{command}` {why}; target {warehouse_target.name!r} is {warehouse_target.type}"
        )
    return warehouse_target


def _sync_schema(warehouse: WarehouseTarget) -> str:
    return load_settings().sync_schema or warehouse.schema


@app.command("demo-events")
def demo_events_command(
    profiles_dir: ProfilesDir = None,
    profile: Profile = None,
    target: Target = None,
    project_dir: ProjectDir = None,
) -> None:
    """Write the demo's raw events (acme_corp, October 2022) into the raw events table (the
    usage_billing_events_* and usage_billing_column_* vars of dbt_project.yml)."""
    try:
        warehouse = _duckdb_target(
            load_project(project_dir),
            profiles_dir,
            profile,
            target,
            "demo-events",
            "writes the demo into the embedded DuckDB",
        )
        table = events_table(project_dir)
    except (SyncError, ProfileError) as error:
        raise _fail(error) from None
    with connect_duckdb(warehouse) as connection:
        written = demo.write_raw_events(connection, demo.demo_events(), table)
    console.print(
        f"Wrote {written} demo events to {table.schema}.{table.table} in {warehouse.path}"
    )


@app.command("invoices")
def invoices_command(
    profiles_dir: ProfilesDir = None,
    profile: Profile = None,
    target: Target = None,
    project_dir: ProjectDir = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer_id.")] = None,
    status: Annotated[str | None, typer.Option(help="Only live, draft or final.")] = None,
) -> None:
    """Print invoices and their lines from the marts."""
    try:
        project = load_project(project_dir)
        warehouse_target = _target(project, profiles_dir, profile, target)
        with open_warehouse(warehouse_target) as warehouse:
            reader = MartsReader(warehouse, mart_relations(project, warehouse_target))
            invoices = reader.invoices(customer, status)
    except (SyncError, ProfileError, MartsMissingError) as error:
        raise _fail(error) from None
    print_invoices(invoices, console)


@app.command("pdf")
def pdf_command(
    invoice_ids: Annotated[
        list[str] | None, typer.Argument(help="Invoice ids (invoices.invoice_id).")
    ] = None,
    period: Annotated[
        str | None,
        typer.Option(help="Every invoice whose period starts in this month, YYYY-MM."),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Directory the PDFs are written to (created if missing).")
    ] = Path(),
    profiles_dir: ProfilesDir = None,
    profile: Profile = None,
    target: Target = None,
    project_dir: ProjectDir = None,
) -> None:
    """Write each invoice as a PDF, INVOICE_ID.pdf ('/' made '_'), printed by headless
    Chromium from the invoice page's template."""
    if not invoice_ids and not period:
        raise _fail(ConfigError("name invoice ids, or --period YYYY-MM for a month's invoices"))
    if period and not valid_period(period):
        raise _fail(ConfigError(f"--period must be YYYY-MM, not {period!r}"))
    try:
        chromium = find_chromium()
        project = load_project(project_dir)
        warehouse_target = _target(project, profiles_dir, profile, target)
        with open_warehouse(warehouse_target) as warehouse:
            reader = MartsReader(warehouse, mart_relations(project, warehouse_target))
            invoices = [
                invoice
                for invoice in reader.invoices()
                if invoice.invoice_id in (invoice_ids or ())
                or (period and f"{invoice.period_start_date:%Y-%m}" == period)
            ]
            found = {invoice.invoice_id for invoice in invoices}
            missing = [name for name in invoice_ids or () if name not in found]
            if missing:
                raise ConfigError("no invoice " + ", ".join(repr(name) for name in missing))
            if not invoices:
                raise ConfigError(f"no invoice's period starts in {period}")
            invoices.sort(key=lambda invoice: invoice.invoice_id)
            documents = [(invoice, reader.revisions(invoice.invoice_id)) for invoice in invoices]
        written = write_pdfs(documents, out, chromium)
    except (SyncError, ProfileError, MartsMissingError) as error:
        raise _fail(error) from None
    for path in written:
        console.print(f"Wrote {path}", highlight=False)


@app.command("load")
def load_command(
    file: Annotated[Path, typer.Argument(help="CSV file of usage events, with a header row.")],
    rejects: Annotated[
        Path | None, typer.Option(help="Where bad rows go (default: FILE.csv.rejects.csv).")
    ] = None,
    profiles_dir: ProfilesDir = None,
    profile: Profile = None,
    target: Target = None,
    project_dir: ProjectDir = None,
) -> None:
    """Validate FILE and append its events to the raw events table; bad rows to a reject file."""
    try:
        warehouse_target = _target(load_project(project_dir), profiles_dir, profile, target)
        check_load_engine(warehouse_target, "load")
        events = events_table(project_dir)
        try:
            size = file.stat().st_size
        except OSError:
            size = 0  # load_csv says what is wrong with the file
        with (
            open_warehouse(warehouse_target) as warehouse,
            Progress(
                TextColumn("loading {task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
                disable=size < 8 * 1024 * 1024,
            ) as progress,
        ):
            task = progress.add_task(file.name, total=100)

            def report(percent: float) -> None:
                progress.update(task, completed=percent)

            if isinstance(warehouse, DuckDBWarehouse):
                result = load_csv(warehouse, events, file, rejects, progress=report)
            else:  # DuckDB checks the file, the target gets the accepted rows
                result = load_csv_remote(warehouse, events, file, rejects, progress=report)
    except (SyncError, ProfileError) as error:
        raise _fail(error) from None
    console.print(
        f"{file}: {result.rows} rows read, [green]{result.loaded} loaded[/green] into"
        f" {events.schema}.{events.table}, {result.already_loaded} already loaded,"
        f" {result.repeated_in_file} repeated in the file, "
        + (f"[red]{result.rejected} rejected[/red]" if result.rejected else "0 rejected")
        + (f" (see {result.reject_file})" if result.reject_file else ""),
        highlight=False,
    )
    if result.rejected:
        raise typer.Exit(2)


def _dry_run_table(target: str, steps: list[Step]) -> Table:
    table = Table(title=f"Would push to {target}", show_lines=False)
    for column in (
        "invoice",
        "rev",
        "kind",
        "action",
        "customer → target",
        "amount",
        "requests",
        "idempotency key",
    ):
        table.add_column(column, justify="right" if column in ("rev", "amount") else "left")
    for step in steps:
        document = step.document
        table.add_row(
            document.invoice_id,
            str(document.revision),
            document.kind,
            step.action,
            f"{step.customer_id} → {step.external_customer or '[red]unmapped[/red]'}",
            f"{document.amount} {document.current.currency}",
            describe(target, document),
            document.key,
        )
    return table


def _print_report(target: str, report: PushReport, up_to_date: int) -> None:
    for step, error in report.failed:
        errors.print(
            f"[red]failed[/red] {step.document.invoice_id} revision {step.document.revision}:"
            f" {error}",
            highlight=False,
        )
    for step in report.skipped:
        errors.print(
            f"[yellow]skipped[/yellow] {step.document.invoice_id}: customer {step.customer_id}"
            f" has no {target} id (usage-billing map-customer {target} {step.customer_id} ID)",
            highlight=False,
        )
    sent, failed, skipped = report.invoice_counts()
    console.print(
        f"{target}: {sent} sent, {failed} failed, {skipped} skipped (unmapped),"
        f" {up_to_date} already up to date",
        highlight=False,
    )


@app.command("push")
def push_command(
    to: Annotated[str, typer.Option("--to", help="stripe, sequence or webhook.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be sent; send nothing.")
    ] = False,
    profiles_dir: ProfilesDir = None,
    profile: Profile = None,
    target: Target = None,
    project_dir: ProjectDir = None,
) -> None:
    """Send final invoices not yet in the ledger (and amendments of changed ones) to a target."""
    if to not in TARGETS:
        raise _fail(SyncError(f"--to must be one of {', '.join(TARGETS)}, not {to!r}"))
    try:
        settings = load_settings()
        project = load_project(project_dir)
        warehouse_target = _target(project, profiles_dir, profile, target)
        with open_warehouse(warehouse_target) as warehouse:
            ledger = Ledger(warehouse, settings.sync_schema or warehouse_target.schema)
            if not dry_run:
                ledger.ensure_tables()
            reader = MartsReader(warehouse, mart_relations(project, warehouse_target))
            invoices = reader.final_invoices()
            exists = ledger.exists()
            entries = ledger.entries(to) if exists else []
            mapping = (
                (ledger.customer_external_ids(to) if exists else {})
                if needs_customer_mapping(to)
                else None
            )
            steps, up_to_date = plan(to, invoices, entries, mapping)
            # Threshold alerts go to the webhook only (docs/usage-controls.md).
            alert_steps, alerts_sent_before = (
                plan_alerts(to, read_crossings(warehouse, reader.relations), entries)
                if to == "webhook"
                else ([], 0)
            )
            if dry_run:
                console.print(_dry_run_table(to, steps))
                invoices_to_push = len({step.document.invoice_id for step in steps})
                console.print(
                    f"{invoices_to_push} invoices to push ({len(steps)} documents),"
                    f" {up_to_date} already up to date; nothing sent."
                )
                if to == "webhook":
                    console.print(
                        f"{len(alert_steps)} threshold alerts to send,"
                        f" {alerts_sent_before} already sent; nothing sent."
                    )
                return
            client = make_target(to, settings)
            try:
                with Progress(
                    TextColumn("pushing to " + to),
                    BarColumn(),
                    TaskProgressColumn(),
                    TimeElapsedColumn(),
                    console=console,
                    transient=True,
                    disable=len(steps) < 5,
                ) as progress:
                    task = progress.add_task(to, total=len(steps))
                    report = push(ledger, client, steps, advance=lambda _: progress.advance(task))
                alerts = (
                    push_alerts(ledger, to, client, alert_steps)
                    if isinstance(client, WebhookTarget)
                    else AlertReport()
                )
            finally:
                client.close()
    except (SyncError, ProfileError, MartsMissingError) as error:
        raise _fail(error) from None
    _print_report(to, report, up_to_date)
    if to == "webhook":
        for alert, message in alerts.failed:
            errors.print(f"[red]failed[/red] alert {alert.crossing_id}: {message}", highlight=False)
        console.print(
            f"{to}: {len(alerts.sent)} threshold alerts sent, {len(alerts.failed)} failed,"
            f" {alerts_sent_before} already sent",
            highlight=False,
        )
    if not report.ok or alerts.failed:
        raise typer.Exit(1)


@app.command("status")
def status_command(
    profiles_dir: ProfilesDir = None,
    profile: Profile = None,
    target: Target = None,
    project_dir: ProjectDir = None,
) -> None:
    """Summarise the ledger: documents per target and state, and what failed or waits."""
    try:
        warehouse_target = _target(load_project(project_dir), profiles_dir, profile, target)
        with open_warehouse(warehouse_target) as warehouse:
            ledger = Ledger(warehouse, _sync_schema(warehouse_target))
            if not ledger.exists():
                console.print("Nothing pushed yet: the ledger table invoice_sync_log is absent.")
                return
            summary = ledger.summary()
            attention = [
                entry for entry in ledger.entries() if entry.state not in ("done", "superseded")
            ]
    except (SyncError, ProfileError) as error:
        raise _fail(error) from None
    table = Table(title=f"invoice_sync_log in {ledger.schema}")
    for column in ("target", "state", "documents", "invoices", "last update"):
        table.add_column(column)
    for row in summary:
        table.add_row(*(str(value) for value in row))
    console.print(table)
    if attention:
        waiting = Table(title="Needing attention")
        for column in ("target", "invoice", "rev", "state", "attempts", "error"):
            waiting.add_column(column)
        for entry in attention:
            waiting.add_row(
                entry.target,
                entry.invoice_id,
                str(entry.revision),
                entry.state,
                str(entry.attempts),
                entry.error or "",
            )
        console.print(waiting)


@app.command("map-customer")
def map_customer_command(
    to: Annotated[str, typer.Argument(help="stripe or sequence.")],
    customer_id: Annotated[str, typer.Argument(help="Our customer_id (customers table).")],
    external_id: Annotated[str, typer.Argument(help="The target's customer id (cus_..., uuid).")],
    profiles_dir: ProfilesDir = None,
    profile: Profile = None,
    target: Target = None,
    project_dir: ProjectDir = None,
) -> None:
    """Record the target's customer id for one of ours, in customer_external_ids."""
    if to not in TARGETS:
        raise _fail(SyncError(f"target must be one of {', '.join(TARGETS)}, not {to!r}"))
    try:
        warehouse_target = _target(load_project(project_dir), profiles_dir, profile, target)
        with open_warehouse(warehouse_target) as warehouse:
            ledger = Ledger(warehouse, _sync_schema(warehouse_target))
            ledger.ensure_tables()
            ledger.map_customers(to, [(customer_id, external_id)])
    except (SyncError, ProfileError) as error:
        raise _fail(error) from None
    console.print(f"{customer_id} → {external_id} for {to}", highlight=False)


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    journal_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where accepted events are logged (DuckDB's default: <database>.ingest/)."
        ),
    ] = None,
    load_interval: Annotated[
        float, typer.Option(help="Seconds between loads of the journal into the raw table.")
    ] = 1.0,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request line.")
    ] = False,
    profiles_dir: ProfilesDir = None,
    profile: Profile = None,
    target: Target = None,
    project_dir: ProjectDir = None,
) -> None:
    """Serve the ingestion API (POST /api/usage-events) and the invoice pages until interrupted."""
    # Imported here: the server stack is not needed by the other commands.
    import uvicorn

    from usage_billing.server import ServerSettings, create_app, default_journal_dir

    try:
        project = load_project(project_dir)
        warehouse_target = _target(project, profiles_dir, profile, target)
        check_load_engine(warehouse_target, "serve")
        if journal_dir is None and warehouse_target.type != "duckdb":
            raise ConfigError(
                f"`serve` on a {warehouse_target.type} target needs --journal-dir: the local"
                " folder where accepted events are fsynced before they reach the warehouse"
            )
        settings = ServerSettings(
            warehouse=warehouse_target,
            project=project,
            events=events_table(project_dir),
            api=load_api_settings(),
            journal_dir=journal_dir or default_journal_dir(warehouse_target),
            load_interval_seconds=load_interval,
        )
        application = create_app(settings)
    except (SyncError, ProfileError) as error:
        raise _fail(error) from None
    console.print(f"Pages on http://{host}:{port}/invoices (marts in {warehouse_target.schema})")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s %(message)s")
    uvicorn.run(
        application,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=access_log,
        log_level="info",
    )
