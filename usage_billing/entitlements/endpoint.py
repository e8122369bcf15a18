"""`GET /api/customers/{alias}/entitlements`: the customer's usage against each of its limits
(docs/entitlements.md), with the API's keys (usage_billing/events/auth.py).

A request reads no warehouse: the build's figures are read once from each copy of the marts
the pages read (`MartsSnapshots`) and kept until the next copy, and the events since the
build are in memory (`RecentEvents`). The route is a plain Starlette one, as the ingest
route is, to keep FastAPI's routing cost out of a request path.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime
from pathlib import Path

import msgspec
from fastapi import Request, Response

from usage_billing.entitlements.answer import BuiltEntitlements, customer_answer
from usage_billing.events.auth import require_api_key
from usage_billing.events.recent_events import RecentEvents
from usage_billing.events.restart_seed import copied_events
from usage_billing.marts.relations import MartsMissingError
from usage_billing.pages.marts_snapshot import MartsSnapshots, MartsUnavailableError
from usage_billing.warehouse.protocol import Warehouse

PATH = "/api/customers/{alias:path}/entitlements"
RETRY_AFTER_SECONDS = "5"

log = logging.getLogger("usage_billing.entitlements")
_encode = msgspec.json.Encoder(decimal_format="number")


class Entitlements:
    """The build's entitlements, read once per copy of the marts, and the recent events."""

    def __init__(self, snapshots: MartsSnapshots | None, recent: RecentEvents) -> None:
        self.snapshots = snapshots
        self.recent = recent
        self._built: tuple[Path, BuiltEntitlements] | None = None
        self._lock = threading.Lock()

    def _read(self, copy: Path) -> BuiltEntitlements:
        assert self.snapshots is not None
        with self._lock:
            if self._built is not None and self._built[0] == copy:
                return self._built[1]
            with self.snapshots.reader() as marts:
                # The new build counts what was timestamped before its clock; forgotten even
                # when its marts lack the entitlements (built by an older version).
                as_of = marts.as_of()
                if as_of is not None:
                    self.recent.forget_before(as_of)
                built = BuiltEntitlements.read(marts)
                if as_of is not None and self.snapshots.copy_events:
                    self._seed(marts.warehouse, as_of)
            self._built = (copy, built)
        log.info("entitlements read from a new copy of the marts (as of %s)", built.as_of)
        return built

    def _seed(self, warehouse: Warehouse, as_of: datetime) -> None:
        """Once per start: the events accepted before it that the build does not count, from
        the raw events the copy holds (restart_seed.py)."""
        assert self.snapshots is not None
        assert self.snapshots.events is not None
        added = self.recent.seed(copied_events(warehouse, self.snapshots.events, as_of))
        self.snapshots.copy_events = False
        log.info("entitlements: %d events loaded before the start added since the build", added)

    def refresh(self) -> None:
        """Read a new copy of the marts as soon as it is taken (`MartsSnapshots.on_new_copy`),
        so that the events its build counts are forgotten whether or not anyone asks."""
        copy = None if self.snapshots is None else self.snapshots.current_copy
        if copy is None:
            return
        try:
            self._read(copy)
        except MartsMissingError as error:
            log.warning("entitlements: %s", error)

    async def built(self) -> BuiltEntitlements:
        """The current build's entitlements; raises MartsUnavailableError without a copy."""
        copy = None if self.snapshots is None else self.snapshots.current_copy
        if copy is None:
            raise MartsUnavailableError("no copy of the marts yet")
        cached = self._built
        if cached is not None and cached[0] == copy:
            return cached[1]
        return await asyncio.to_thread(self._read, copy)


def _json(status_code: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(
        _encode.encode(body),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


async def customer_entitlements(request: Request) -> Response:
    """The alias's customer's limits: used, limit, remaining, within_limit, as of the build's
    clock plus the events accepted since, where those add exactly."""
    require_api_key(request)
    entitlements: Entitlements = request.app.state.entitlements
    alias = str(request.path_params["alias"])
    try:
        built = await entitlements.built()
    except MartsUnavailableError:
        return _json(
            503,
            {"error": "unavailable", "message": "the marts are being copied; retry shortly"},
            {"Retry-After": RETRY_AFTER_SECONDS},
        )
    except MartsMissingError as error:
        log.warning("entitlements: %s", error)
        return _json(
            503,
            {"error": "not_built", "message": "the entitlements are not built: run dbt build"},
        )
    answer = customer_answer(built, alias, entitlements.recent)
    if answer is None:
        return _json(
            404,
            {"error": "unknown_customer", "message": f"no customer has the alias {alias!r}"},
        )
    return _json(200, answer)
