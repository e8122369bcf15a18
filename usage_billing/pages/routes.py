"""Invoice and usage pages for people: the invoice list, each invoice as the seed's card with a
chart of the period's daily usage, and the live totals of open periods. Read-only on the marts;
figures are formatted per currency by `usage_billing.formatting`, never computed here.

The app that includes `router` keeps the copy of the marts the pages read
(`marts_snapshot.MartsSnapshots`) in `app.state.marts_snapshots`, and registers `server_error`
for unexpected exceptions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from fastapi.templating import Jinja2Templates

from usage_billing import formatting
from usage_billing.line_text import included_tax_note
from usage_billing.marts.figures import (
    line_cells,
    period_text,
    shows_subtotal,
    tax_status_note,
    usage_figures,
)
from usage_billing.marts.model import LiveMetric, MetricUsage
from usage_billing.marts.reader import (
    STATUSES,
    InvoiceFilters,
    MartsReader,
    changed_after_final,
    valid_period,
)
from usage_billing.marts.relations import MartsMissingError
from usage_billing.pages import charts
from usage_billing.pages.marts_snapshot import MartsSnapshots, MartsUnavailableError

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"

templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["money"] = formatting.money
templates.env.filters["quantity"] = formatting.quantity
templates.env.filters["percent"] = formatting.percent
templates.env.filters["whole"] = lambda value: formatting.rounded(value, 0)
templates.env.globals["line_cells"] = line_cells
templates.env.globals["usage_figures"] = usage_figures
templates.env.globals["shows_subtotal"] = shows_subtotal
templates.env.globals["tax_status_note"] = tax_status_note
templates.env.globals["included_tax_note"] = included_tax_note
templates.env.globals["daily_chart"] = charts.daily_chart

router = APIRouter(include_in_schema=False)
log = logging.getLogger("usage_billing.pages")


# What a page says when it cannot answer: no file paths, process ids or SQL, which the log has.
REBUILDING = "The invoices are being rebuilt. Retry in a few seconds."
NOT_BUILT = "The invoices have not been built yet: run `dbt build`, then reload this page."
BROKEN = "Something went wrong showing this page. The server's log says what."
RETRY_AFTER_SECONDS = 5


@contextmanager
def open_marts(request: Request) -> Iterator[MartsReader]:
    """A reader over the server's copy of the marts (`marts_snapshot`), never the warehouse
    file itself: however many requests read, a `dbt build` can always open the file."""
    snapshots: MartsSnapshots | None = request.app.state.marts_snapshots
    if snapshots is None:
        raise MartsUnavailableError("the pages read the marts of a DuckDB target only")
    with snapshots.reader() as marts:
        yield marts


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def _problem(request: Request, status_code: int, title: str, message: str) -> Response:
    return _page(request, "problem.html", status_code, title=title, message=message)


def _render(request: Request, build: Callable[[MartsReader], Response]) -> Response:
    """`build`'s page, or a page saying that the marts cannot be read now."""
    try:
        with open_marts(request) as marts:
            return build(marts)
    except MartsUnavailableError as error:
        log.info("%s: %s", request.url.path, error)
        response = _problem(request, 503, "Invoices being rebuilt", REBUILDING)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    except MartsMissingError as error:
        log.warning("%s: %s", request.url.path, error)
        return _problem(request, 503, "Invoices not built", NOT_BUILT)


def server_error(request: Request, error: Exception) -> Response:
    """Any unexpected failure: a page that gives nothing away; the traceback goes to the log."""
    log.error("%s failed", request.url.path, exc_info=error)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": "internal_error", "message": BROKEN}, status_code=500)
    return _problem(request, 500, "Server error", BROKEN)


def _metrics(usage: Iterable[MetricUsage | LiveMetric]) -> list[tuple[str, str, bool]]:
    """(name, unit, is_money) of each metric once, in order (groups share their metric)."""
    return list(
        dict.fromkeys((metric.metric_name, metric.unit, metric.is_money) for metric in usage)
    )


@router.get("/", response_class=RedirectResponse)
def home(request: Request) -> RedirectResponse:
    return RedirectResponse(request.url_for("invoice_list"), status_code=307)


@router.get("/invoices", response_class=HTMLResponse, name="invoice_list")
def invoice_list(
    request: Request,
    period: Annotated[str | None, Query(description="Month of the period start, YYYY-MM.")] = None,
    customer: Annotated[str | None, Query(description="A customer_id.")] = None,
    status: Annotated[str | None, Query(description="live, draft, final or revised.")] = None,
) -> Response:
    """Invoices, newest period first, filtered by period, customer and status."""
    filters = InvoiceFilters(period or None, customer or None, status or None)
    problems = []
    if filters.period and not valid_period(filters.period):
        problems.append(f"period must be a month as YYYY-MM, not {filters.period!r}")
    if filters.status and filters.status not in STATUSES:
        problems.append(f"status must be one of {', '.join(STATUSES)}, not {filters.status!r}")
    if problems:
        return _problem(request, 400, "Bad filter", "; ".join(problems))
    return _render(
        request,
        lambda marts: _page(
            request,
            "invoices.html",
            invoices=marts.summaries(filters),
            filters=filters,
            periods=marts.periods(),
            customers=marts.customers(),
            statuses=STATUSES,
        ),
    )


@router.get("/invoices/{invoice_id:path}", response_class=HTMLResponse, name="invoice_page")
def invoice_page(request: Request, invoice_id: str) -> Response:
    """One invoice as a card, with the customer's daily usage of its metrics in the period."""

    def build(marts: MartsReader) -> Response:
        invoice = marts.invoice(invoice_id)
        if invoice is None:
            return _problem(request, 404, "No such invoice", f"no invoice {invoice_id!r}")
        revisions = marts.revisions(invoice_id)
        return _page(
            request,
            "invoice.html",
            invoice=invoice,
            period=period_text(invoice),
            revisions=revisions,
            revised=changed_after_final(revisions),
            usage=marts.daily_usage(
                invoice.customer_id,
                _metrics(invoice.usage),
                invoice.period_start,
                invoice.period_end,
            ),
        )

    return _render(request, build)


@router.get("/usage", response_class=HTMLResponse, name="usage_page")
def usage_page(
    request: Request,
    customer: Annotated[str | None, Query(description="A customer_id.")] = None,
) -> Response:
    """Live totals of every open period per customer; one customer's metrics day by day."""

    def build(marts: MartsReader) -> Response:
        live = marts.live_invoices()
        customers = list(dict.fromkeys((item.customer_id, item.customer_name) for item in live))
        selected = customer or (customers[0][0] if customers else None)
        shown = [item for item in live if item.customer_id == selected]
        return _page(
            request,
            "usage.html",
            as_of=marts.as_of(),
            live=live,
            customers=customers,
            selected=selected,
            shown=shown,
            # The charts are by metric: each named as its headline card names it.
            display_names={
                metric.metric_name: metric.display_name for item in shown for metric in item.metrics
            },
            usage={
                item.invoice_id: marts.daily_usage(
                    item.customer_id, _metrics(item.metrics), item.period_start, item.period_end
                )
                for item in shown
            },
        )

    return _render(request, build)


@router.get("/static/{name}", name="static")
def static_file(name: str) -> FileResponse:
    """The pages' stylesheet and script, shipped in the package."""
    path = STATIC_DIR / name
    if path.parent != STATIC_DIR or not path.is_file():
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(path)
