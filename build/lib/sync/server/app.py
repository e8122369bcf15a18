"""The ASGI app of `usage-billing serve`."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from sync.server import pages
from sync.warehouse import WarehouseTarget


@dataclass(frozen=True)
class ServerSettings:
    """What the app serves from: the profile target dbt builds the marts into."""

    warehouse: WarehouseTarget


def create_app(settings: ServerSettings) -> FastAPI:
    app = FastAPI(title="usage_billing", docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.include_router(pages.router)
    return app
