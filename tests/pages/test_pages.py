"""The invoice and usage pages in a real headless Chromium (Debian's, through its chromedriver),
served by `usage-billing serve` on 127.0.0.1 over the demo's marts: every figure on a page equals
the marts, charts have one bar per day, pages log no console error, and print hides the controls.
Screenshots land in target/screenshots/ for a person to look at."""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support.pages_server import serving
from tests.support.warehouse_scenario import MARTS_SCHEMA, REPO_DIR, Scenario, run_dbt
from usage_billing import formatting

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = REPO_DIR / "target" / "screenshots"
LIVE_CLOCK = "2022-10-20 12:00:00"

# The seed's three invoices, as its cards print them.
SEED_TOTALS = {
    "sub_acme_api/2022-10-01": "$99.05",
    "sub_acme_platform/2022-10-01": "£3,750.00",
    "sub_acme_payments/2022-10-01": "€7,212.89",
}
OCTOBER = [date(2022, 10, 1) + timedelta(days=day) for day in range(31)]
CLOCK_DAYS = 20  # 1 to 20 October: the days of the live period up to LIVE_CLOCK's


@pytest.fixture(scope="module", autouse=True)
def live_build(
    demo_warehouse: Scenario, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Future[Scenario]]:
    """The demo with the billing clock on 20 October 2022, when its periods are open (live):
    only the models the clock changes are rebuilt, on a copy. Started with the module, so the
    build runs while the first pages are tested (dbt waits on one core, Chromium the other)."""
    database = tmp_path_factory.mktemp("live") / "warehouse.duckdb"
    shutil.copy(demo_warehouse.database, database)

    def build() -> Scenario:
        run_dbt(
            [
                "run",
                "--select",
                "usage_billing__int_billing_periods+",
                "--exclude",
                "usage_billing__invoice_revisions",
            ],
            database,
            {"usage_billing_as_of": LIVE_CLOCK},
        )
        return Scenario(database)

    with ThreadPoolExecutor(max_workers=1) as executor:
        yield executor.submit(build)


@pytest.fixture(scope="module")
def live_warehouse(live_build: Future[Scenario]) -> Scenario:
    return live_build.result()


@pytest.fixture(scope="module")
def final_site(demo_warehouse: Scenario) -> Iterator[str]:
    with serving(demo_warehouse.database) as url:
        yield url


@pytest.fixture(scope="module")
def live_site(live_warehouse: Scenario) -> Iterator[str]:
    with serving(live_warehouse.database) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("Debian's chromium and chromium-driver are missing: run `make browser`")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",  # containers often have a small /dev/shm
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def _open(browser: webdriver.Chrome, url: str, screenshot: str) -> None:
    """Load `url`, fail on any console error, and save a full-page screenshot."""
    browser.get(url)
    WebDriverWait(browser, 10).until(
        lambda driver: driver.execute_script("return document.readyState") == "complete"
    )
    assert _console_errors(browser) == [], f"console errors on {url}"
    _screenshot(browser, screenshot)


def _console_errors(browser: webdriver.Chrome) -> list[dict[str, Any]]:
    """Errors logged to the console since the last call."""
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def _screenshot(browser: webdriver.Chrome, name: str) -> None:
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    (SCREENSHOTS / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))


def _text(root: webdriver.Chrome | WebElement, selector: str) -> str:
    return str(root.find_element(By.CSS_SELECTOR, selector).text)


def _marts(database: Path, sql: str, parameters: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql, parameters or []).fetchall()


def _daily(database: Path, metric: str) -> list[Decimal]:
    by_day = dict(
        _marts(
            database,
            f"""
            select usage_date, sum(quantity) from {MARTS_SCHEMA}.usage_billing__metric_usage_daily
            where customer_id = 'cus_acme' and metric_name = ? group by usage_date
            """,
            [metric],
        )
    )
    return [by_day.get(day, Decimal(0)) for day in OCTOBER]


def _bars(chart: WebElement) -> list[str]:
    """The quantity text of each bar, in day order."""
    return [
        str(bar.get_attribute("textContent"))
        for bar in chart.find_elements(By.CSS_SELECTOR, "g.bar desc.value")
    ]


def test_invoice_list_shows_the_marts_and_filters(
    browser: webdriver.Chrome, final_site: str, demo_warehouse: Scenario
) -> None:
    _open(browser, f"{final_site}/invoices", "invoice-list")
    rows = {
        row.get_attribute("data-invoice-id"): row
        for row in browser.find_elements(By.CSS_SELECTOR, "table.invoice-list tbody tr")
    }
    marts = _marts(
        demo_warehouse.database,
        f"select invoice_id, currency, total, status from {MARTS_SCHEMA}.usage_billing__invoices",
    )
    assert sorted(rows) == sorted(invoice_id for invoice_id, *_ in marts) == sorted(SEED_TOTALS)
    for invoice_id, currency, total, status in marts:
        shown = _text(rows[invoice_id], "[data-field=total]")
        assert shown == formatting.money(total, currency) == SEED_TOTALS[invoice_id]
        assert _text(rows[invoice_id], "[data-field=status]") == status == "final"

    # The filters submit themselves on change (pages.js) and keep their choice.
    Select(browser.find_element(By.NAME, "status")).select_by_value("live")
    WebDriverWait(browser, 10).until(lambda driver: "status=live" in driver.current_url)
    assert browser.find_elements(By.CSS_SELECTOR, "table.invoice-list") == []
    assert "No invoices match" in _text(browser, ".empty")
    browser.get(f"{final_site}/invoices?period=2022-10&customer=cus_acme&status=final")
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.invoice-list tbody tr")) == 3
    period = Select(browser.find_element(By.NAME, "period"))
    assert period.first_selected_option.get_attribute("value") == "2022-10"
    browser.get(f"{final_site}/invoices?period=2022-09")
    assert browser.find_elements(By.CSS_SELECTOR, "table.invoice-list tbody tr") == []
    assert _console_errors(browser) == []


@pytest.mark.parametrize(
    ("invoice_id", "lines", "effective"),
    [
        (
            "sub_acme_api/2022-10-01",
            [
                ["API requests, 1 – 500 requests", "500", "$0.10", "$50.00"],
                ["API requests, 501 requests and above", "327", "$0.15", "$49.05"],
            ],
            "$0.1198 per request",
        ),
        (
            "sub_acme_payments/2022-10-01",
            [
                ["Payment volume, €0 – €500,000", "€500,000", "0.7%", "€3,500.00"],
                ["Payment volume, €500,000 – €1,250,000", "€750,000", "0.4%", "€3,000.00"],
                ["Payment volume, €1,250,000 and above", "€237,631", "0.3%", "€712.89"],
            ],
            "0.48%",
        ),
        (
            "sub_acme_platform/2022-10-01",
            [
                ["Platform fee", "1", "£2,500.00", "£2,500.00"],
                ["Implementation fee", "1", "£1,250.00", "£1,250.00"],
            ],
            None,
        ),
    ],
)
def test_invoice_card_equals_the_marts(
    browser: webdriver.Chrome,
    final_site: str,
    demo_warehouse: Scenario,
    invoice_id: str,
    lines: list[list[str]],
    effective: str | None,
) -> None:
    name = invoice_id.split("/")[0].removeprefix("sub_acme_")
    _open(browser, f"{final_site}/invoices/{invoice_id}", f"invoice-{name}")
    card = browser.find_element(By.CSS_SELECTOR, f"article[data-invoice-id='{invoice_id}']")
    shown = [
        [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in card.find_elements(By.CSS_SELECTOR, "table.lines tbody tr")
    ]
    assert shown == lines
    # Metrics by their display names (integration_tests' YAML, or the name in words), never
    # by their keys.
    keys = _marts(
        demo_warehouse.database,
        f"select distinct metric_name from {MARTS_SCHEMA}.usage_billing__billable_usage",
    )
    assert {"api_requests", "payment_volume"} <= {key for (key,) in keys}
    assert not [key for (key,) in keys if key in card.text]
    marts_lines = _marts(
        demo_warehouse.database,
        f"""
        select amount, currency from {MARTS_SCHEMA}.usage_billing__invoice_lines
        where invoice_id = ? order by line_number
        """,
        [invoice_id],
    )
    assert [row[3] for row in shown] == [formatting.money(*line) for line in marts_lines]
    [(total, currency, customer)] = _marts(
        demo_warehouse.database,
        f"select total, currency, customer_name from {MARTS_SCHEMA}.usage_billing__invoices where"
        " invoice_id = ?",
        [invoice_id],
    )
    assert _text(card, "tfoot [data-field=total]") == formatting.money(total, currency)
    assert _text(card, "[data-field=headline-total]") == SEED_TOTALS[invoice_id]
    assert _text(card, "[data-field=customer]") == customer == "Acme Corp"
    assert _text(card, "[data-field=period]") == "01 Oct 2022 – 31 Oct 2022"
    # Number, dates and parties (docs/invoices.md), as invoices and issuers hold them.
    [(number, issued, due, terms_days, amount_due)] = _marts(
        demo_warehouse.database,
        f"select invoice_number, issue_date, due_date, payment_terms_days, amount_due"
        f" from {MARTS_SCHEMA}.usage_billing__invoices where invoice_id = ?",
        [invoice_id],
    )
    assert number.startswith("DEMO-")
    assert _text(card, "[data-field=invoice-number]") == number
    assert _text(card, "[data-field=issue-date]") == str(issued)
    assert _text(card, "[data-field=due-date]") == f"{due} (net {terms_days})"
    assert _text(card, "[data-field=amount-due]") == formatting.money(amount_due, currency)
    assert _text(card, "[data-field=seller]").splitlines() == [
        "FROM",
        "Demo Metering Ltd",
        "10 Example Road",
        "London EC1A 1AA",
        "United Kingdom",
        "invoices@demo.example",
        "Tax ID GB123456789",
    ]
    assert _text(card, "[data-field=buyer]").splitlines() == [
        "1 Harbour Street",
        "Suite 400",
        "Springfield, CA 12345",
        "US",
        "billing@acme.example",
        "Tax ID US-EIN-12-3456789",
    ]

    charts = card.find_elements(By.CSS_SELECTOR, "figure.chart")
    if effective is None:
        assert charts == []
        assert "fixed fees" in _text(card, ".no-usage")
        return
    assert _text(card, ".effective-rate [data-field=effective]") == effective
    [chart] = charts
    metric = str(chart.get_attribute("data-metric"))
    [(unit, is_money)] = _marts(
        demo_warehouse.database,
        f"select unit, is_money from {MARTS_SCHEMA}.usage_billing__billable_usage where"
        " invoice_id = ?",
        [invoice_id],
    )
    expected = [
        formatting.quantity(quantity, unit)
        if is_money
        else f"{formatting.quantity(quantity)} {unit}"
        for quantity in _daily(demo_warehouse.database, metric)
    ]
    assert _bars(chart) == expected  # one bar per day of October, zero on days without usage
    assert len(expected) == 31
    # pages.js gives each bar a hover title: its day and quantity.
    titles = chart.find_elements(By.CSS_SELECTOR, "g.bar > title")
    assert [title.get_attribute("textContent") for title in titles][:1] == [
        f"Sat 01 Oct 2022: {expected[0]}"
    ]
    assert len(titles) == 31


def test_usage_page_shows_live_totals_and_daily_charts(
    browser: webdriver.Chrome, live_site: str, live_warehouse: Scenario
) -> None:
    _open(browser, f"{live_site}/usage", "usage-live")
    assert _text(browser, "[data-field=as-of]") == "20 Oct 2022 12:00"
    rows = {
        row.get_attribute("data-invoice-id"): row
        for row in browser.find_elements(By.CSS_SELECTOR, "table.live-list tbody tr")
    }
    live = _marts(
        live_warehouse.database,
        f"select invoice_id, total, currency from {MARTS_SCHEMA}.usage_billing__invoices where"
        " status = 'live'",
    )
    assert sorted(rows) == sorted(SEED_TOTALS)
    for invoice_id, total, currency in live:
        assert _text(rows[invoice_id], "[data-field=total-so-far]") == formatting.money(
            total, currency
        )
    # In arrears, the platform fees are not due before the period ends.
    assert _text(rows["sub_acme_platform/2022-10-01"], "[data-field=total-so-far]") == "£0.00"

    metrics = _marts(
        live_warehouse.database,
        f"""
        select metric_name, amount_so_far, projected_amount, currency
        from {MARTS_SCHEMA}.usage_billing__live_invoice_totals order by metric_name
        """,
    )
    assert [metric for metric, *_ in metrics] == ["api_requests", "payment_volume"]
    for metric, amount, projected, currency in metrics:
        card = browser.find_element(By.CSS_SELECTOR, f".headline-card[data-metric={metric}]")
        assert _text(card, "[data-field=amount-so-far]") == formatting.money(amount, currency)
        assert _text(card, "[data-field=projected-amount]") == formatting.money(projected, currency)
        chart = browser.find_element(By.CSS_SELECTOR, f"figure.chart[data-metric={metric}]")
        # A bar for each day up to the clock's, 1 to 20 October; the days after have not happened.
        daily = _daily(live_warehouse.database, metric)[:CLOCK_DAYS]
        assert _bars(chart) == [_bar_text(quantity, metric) for quantity in daily]

    # Metrics by the names invoices give them: api_requests's display_name, payment_volume's
    # name in words (it declares none); never the raw key.
    names = dict(
        _marts(
            live_warehouse.database,
            f"select distinct metric_name, metric_display_name from {MARTS_SCHEMA}."
            "usage_billing__billable_usage",
        )
    )
    assert [names["api_requests"], names["payment_volume"]] == ["API requests", "Payment volume"]
    section = browser.find_element(By.CSS_SELECTOR, "section.customer-usage")
    for metric, *_ in metrics:
        card = section.find_element(By.CSS_SELECTOR, f".headline-card[data-metric={metric}]")
        assert _text(card, "h3") == names[metric]
        chart = section.find_element(By.CSS_SELECTOR, f"figure.chart[data-metric={metric}]")
        assert _text(chart, "figcaption").startswith(f"Daily usage · {names[metric]} (")
        assert metric not in section.text

    # Usage so far and its projection count the requests before the clock only, not all 827 of
    # October (the events of the demo run to the month's end).
    [(before_clock,)] = _marts(
        live_warehouse.database,
        f"""
        select count(*) from {MARTS_SCHEMA}.usage_billing__int_usage_events_matched_to_metrics
        where customer_id = 'cus_acme' and metric_name = 'api_requests'
            and event_at >= '2022-10-01' and event_at < ?
        """,
        [LIVE_CLOCK],
    )
    assert 0 < before_clock < 827
    card = browser.find_element(By.CSS_SELECTOR, ".headline-card[data-metric=api_requests]")
    assert _text(card, "[data-field=quantity-so-far]") == f"{before_clock:,} requests"
    # 19.5 of October's 31 days have passed at the clock.
    projected = formatting.rounded(Decimal(before_clock) * 31 / Decimal("19.5"), 0)
    assert _text(card, "[data-field=projected-quantity]") == f"{projected:,} requests"


def _bar_text(quantity: Decimal, metric: str) -> str:
    if metric == "payment_volume":
        return formatting.quantity(quantity, "EUR")
    return f"{formatting.quantity(quantity)} requests"


def _y_labels(chart: WebElement) -> list[str]:
    return [
        str(label.get_attribute("textContent"))
        for label in chart.find_elements(By.CSS_SELECTOR, ".axis.y .guides text")
    ]


@pytest.fixture(scope="module")
def unused_metric_site(
    live_warehouse: Scenario, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The live marts as a build leaves them when the customer made no payments in October:
    no row of payment_volume in metric_usage_daily."""
    database = tmp_path_factory.mktemp("unused") / "warehouse.duckdb"
    shutil.copy(live_warehouse.database, database)
    with duckdb.connect(str(database)) as connection:
        connection.execute(
            f"delete from {MARTS_SCHEMA}.usage_billing__metric_usage_daily"
            " where metric_name = 'payment_volume'"
        )
    with serving(database) as url:
        yield url


def test_a_metric_without_usage_draws_a_sane_axis(
    browser: webdriver.Chrome, unused_metric_site: str
) -> None:
    _open(browser, f"{unused_metric_site}/usage", "usage-unused-metric")
    chart = browser.find_element(By.CSS_SELECTOR, "figure.chart[data-metric=payment_volume]")
    assert _bars(chart) == ["€0"] * CLOCK_DAYS
    assert _y_labels(chart) == ["0", "1"]
    # A chart with usage: round ticks, none repeated.
    requests = browser.find_element(By.CSS_SELECTOR, "figure.chart[data-metric=api_requests]")
    ticks = _y_labels(requests)
    assert ticks[0] == "0"
    assert len(ticks) == len(set(ticks)) > 2


def test_usage_page_without_an_open_period(browser: webdriver.Chrome, final_site: str) -> None:
    _open(browser, f"{final_site}/usage", "usage-no-open-period")
    assert "No billing period is open" in _text(browser, "[data-field=no-live]")


def test_invoice_prints_without_the_controls(browser: webdriver.Chrome, final_site: str) -> None:
    browser.get(f"{final_site}/invoices/sub_acme_payments/2022-10-01")
    assert browser.find_element(By.CSS_SELECTOR, "[data-print]").is_displayed()
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not browser.find_element(By.CSS_SELECTOR, ".site-header").is_displayed()
        assert not browser.find_element(By.CSS_SELECTOR, "[data-print]").is_displayed()
        assert browser.find_element(By.CSS_SELECTOR, "figure.chart svg").is_displayed()
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    pdf = base64.b64decode(browser.print_page())
    (SCREENSHOTS / "invoice-payments.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1  # the card fits one A4 page


@pytest.fixture(scope="module")
def adjusted_site(
    demo_warehouse: Scenario, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The demo's marts as a build would leave them after a minimum charge, a prepaid credit and
    late usage revised the final API invoice: rows the pricing tests check the models produce,
    written here directly so that the page test needs no further dbt build."""
    database = tmp_path_factory.mktemp("adjusted") / "warehouse.duckdb"
    shutil.copy(demo_warehouse.database, database)
    invoice_id = "sub_acme_api/2022-10-01"
    with duckdb.connect(str(database)) as connection:
        for number, line_type, description, amount in [
            (3, "minimum_true_up", "Minimum charge true-up - Usage", "0.95"),
            (4, "credit", "Prepaid credit promo_2022", "-20.00"),
        ]:
            connection.execute(
                f"""
                insert into {MARTS_SCHEMA}.usage_billing__invoice_lines (invoice_line_id,
                invoice_id,
                    line_number, line_type, description, quantity, unit_price, flat_amount,
                    amount, currency, is_percentage)
                values (? || '#' || ?, ?, ?, ?, ?, 1, ?, 0, ?, 'USD', false)
                """,
                [invoice_id, number, invoice_id, number, line_type, description, amount, amount],
            )
        connection.execute(
            f"""
            update {MARTS_SCHEMA}.usage_billing__invoices
            set subtotal = 100.00, credits_applied = 20.00, total = 80.00, line_count = 4
            where invoice_id = ?
            """,
            [invoice_id],
        )
        for revised_id, status in [
            (invoice_id, "final"),
            ("sub_acme_platform/2022-10-01", "draft"),
        ]:
            connection.execute(
                f"""
                insert into {MARTS_SCHEMA}.usage_billing__invoice_revisions (invoice_revision_id,
                invoice_id,
                    revision_number, status, total, previous_total, total_delta, revised_at)
                select invoice_id || '@2', invoice_id, 2, ?, ?, total, ? - total,
                    revised_at + interval 3 day
                from {MARTS_SCHEMA}.usage_billing__invoice_revisions where invoice_id = ?
                """,
                [status, "80.00", "80.00", revised_id],
            )
    with serving(database) as url:
        yield url


def test_adjustments_credits_and_revisions(browser: webdriver.Chrome, adjusted_site: str) -> None:
    """True-ups and credits show as amounts only; an invoice changed after it was final is
    `revised` (a draft's changes are not), with its revisions listed."""
    _open(browser, f"{adjusted_site}/invoices/sub_acme_api/2022-10-01", "invoice-adjusted")
    card = browser.find_element(By.CSS_SELECTOR, "article.invoice-card")
    shown = [
        [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in card.find_elements(By.CSS_SELECTOR, "table.lines tbody tr")
    ]
    assert shown[2:] == [
        ["Minimum charge true-up - Usage", "", "", "$0.95"],
        ["Prepaid credit promo_2022", "", "", "-$20.00"],
    ]
    assert _text(card, "[data-field=subtotal]") == "$100.00"
    assert _text(card, "[data-field=credits]") == "-$20.00"
    assert _text(card, "tfoot [data-field=total]") == "$80.00"
    assert _text(card, "[data-field=revised]") == "revised · rev 2"
    assert [
        row.text.split()[-1] for row in card.find_elements(By.CSS_SELECTOR, ".revisions tbody tr")
    ] == [
        "$99.05",
        "-$19.05",
    ]

    _open(browser, f"{adjusted_site}/invoices?status=revised", "invoice-list-revised")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.invoice-list tbody tr")
    assert [row.get_attribute("data-invoice-id") for row in rows] == ["sub_acme_api/2022-10-01"]
    assert _text(rows[0], "[data-field=total]") == "$80.00"
