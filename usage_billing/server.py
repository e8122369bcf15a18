"""The ASGI application of `usage-billing serve`: the ingestion API and the invoice pages.

One server process owns the ingestion journal and its loader (DuckDB allows one writing
process; PostgreSQL and Snowflake get the events through their connectors) and, on DuckDB, the
copy of the marts the pages read; `create_app` wires the routers to them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from usage_billing.dbt_project import DbtProject
from usage_billing.entitlements import endpoint as entitlements
from usage_billing.events import ingest
from usage_billing.events.auth import ApiKeys
from usage_billing.events.journal import Journal
from usage_billing.events.loader import Loader
from usage_billing.events.recent_events import RecentEvents
from usage_billing.events.table import EventsTable
from usage_billing.pages import routes
from usage_billing.pages.marts_snapshot import MartsSnapshots
from usage_billing.settings import ApiSettings
from usage_billing.warehouse.profile import WarehouseTarget

log = logging.getLogger("usage_billing.server")


@dataclass(frozen=True)
class ServerSettings:
    """Everything the server reads: the warehouse, the dbt project (where the marts are), the
    raw events table, the API's settings, where the journal lives and how often it is loaded."""

    warehouse: WarehouseTarget
    project: DbtProject
    events: EventsTable
    api: ApiSettings
    journal_dir: Path
    load_interval_seconds: float = 1.0


def default_journal_dir(warehouse: WarehouseTarget) -> Path:
    """Beside the DuckDB file: `<database>.ingest/` (other engines name one: --journal-dir)."""
    return Path(f"{warehouse.path}.ingest")


def create_app(settings: ServerSettings) -> FastAPI:
    """The application: the ingestion API and the pages; the journal and its loader run while it
    serves."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        journal = Journal(settings.journal_dir)
        loader = Loader(
            journal, settings.warehouse, settings.events, settings.load_interval_seconds
        )
        journal.start(asyncio.get_running_loop())
        # The entitlements read the marts' copy, on DuckDB only: elsewhere nothing would ever
        # forget the events kept for them.
        recent = RecentEvents() if settings.warehouse.type == "duckdb" else None
        app.state.ingest = ingest.Ingest(
            journal,
            settings.api.account_id,
            settings.api.max_body_bytes,
            settings.api.max_batch_events,
            recent,
        )
        # Segments an earlier run left (a crash) are loaded before new ones.
        await asyncio.to_thread(loader.load_round)
        loader.start()
        # The pages copy the marts out of a DuckDB file; on other engines they say so (503).
        snapshots = None
        if settings.warehouse.type == "duckdb":
            snapshots = MartsSnapshots(settings.warehouse, settings.project, events=settings.events)
        app.state.entitlements = entitlements.Entitlements(snapshots, recent or RecentEvents())
        if snapshots is not None:
            snapshots.on_new_copy.append(app.state.entitlements.refresh)
            await asyncio.to_thread(snapshots.refresh)
            snapshots.start()
        app.state.marts_snapshots = snapshots
        try:
            yield
        finally:
            if snapshots is not None:
                snapshots.stop()
            loader.stop()
            await asyncio.to_thread(journal.close)
            await asyncio.to_thread(loader.load_round)

    if not settings.api.keys:
        log.warning(
            "no API key set (USAGE_BILLING_API_KEYS or USAGE_BILLING_API_KEYS_FILE):"
            " POST /api/usage-events answers 401 to every request"
        )
    app = FastAPI(title="usage-billing", lifespan=lifespan)
    app.state.settings = settings
    app.state.warehouse_target = settings.warehouse
    app.state.api_keys = ApiKeys(settings.api.keys)
    # A plain Starlette route: FastAPI's routing layer cost a third of a single event's
    # request (2,000 against 2,700-3,000 requests/s in bench/ingest_load.py).
    app.add_route(
        "/api/usage-events", ingest.create_usage_events, methods=["POST"], include_in_schema=False
    )
    app.add_route(
        entitlements.PATH,
        entitlements.customer_entitlements,
        methods=["GET"],
        include_in_schema=False,
    )
    app.include_router(routes.router)
    app.add_exception_handler(Exception, routes.server_error)
    return app
