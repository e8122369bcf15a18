"""Retries, errors, money and the CLI: scripted failures against a server on 127.0.0.1, and
`usage-billing push/status/map-customer` as a user runs them."""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.support.billing_fakes import FakeBilling, serve
from tests.support.ingest_server import free_port
from tests.support.sync_harness import environment_for, make_version, settings_for, write_marts
from tests.support.warehouse_scenario import BIN_DIR, REPO_DIR
from usage_billing.errors import (
    ClientError,
    ConfigError,
    RateLimitedError,
    UnsupportedAmountError,
)
from usage_billing.http import HttpClient, parse_retry_after
from usage_billing.marts.model import InvoiceVersion
from usage_billing.money import stripe_minor_units
from usage_billing.push.documents import Document
from usage_billing.push.targets.base import Job
from usage_billing.push.targets.registry import make_target
from usage_billing.push.targets.stripe import StripeTarget
from usage_billing.settings import HttpSettings, Settings, load_settings


class Script:
    """Faults in a fixed order, then none."""

    def __init__(self, *faults: str | None) -> None:
        self.faults = list(faults)

    def draw(self, *_: object) -> str | None:
        return self.faults.pop(0) if self.faults else None


@pytest.fixture
def server() -> Iterator[tuple[FakeBilling, str]]:
    fake = FakeBilling()
    with serve(fake) as base_url:
        yield fake, base_url


def _document(customer: str = "cust_1", currency: str = "USD") -> Document:
    version = make_version(
        "sub_1/2022-10-01", customer, currency, [("Usage", 827, Decimal("0.15"))]
    )
    return Document("stripe", 0, version, key="ub_test_key")


def test_retries_reuse_one_idempotency_key_and_create_once(
    server: tuple[FakeBilling, str],
) -> None:
    fake, base_url = server
    fake.faults = Script("429", "500", "lost", "drop", "409")  # type: ignore[assignment]
    sleeps: list[float] = []
    target = make_target("stripe", settings_for(base_url), sleep=sleeps.append)
    external = target.push(Job(_document(), "cus_1", False, None, lambda _: None))
    target.close()
    creates = [key for method, path, key in fake.log if (method, path) == ("POST", "/v1/invoices")]
    assert len(creates) == 6  # five failures, one success
    assert set(creates) == {"ub_test_key"}
    assert list(fake.stripe_invoices) == [external]
    assert fake.stripe_invoices[str(external)]["status"] == "open"
    assert len(fake.stripe_items) == 1
    assert len(sleeps) == 5


def test_retry_after_is_honoured_and_other_4xx_fail_at_once() -> None:
    answers = [
        httpx.Response(429, headers={"Retry-After": "2"}, json={"error": {"message": "slow"}}),
        httpx.Response(200, json={"ok": True}),
        httpx.Response(400, json={"error": {"message": "Missing required param: customer."}}),
        httpx.Response(503, headers={"Stripe-Should-Retry": "false"}, json={}),
    ]
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answers.pop(0)

    sleeps: list[float] = []
    client = HttpClient(
        "http://127.0.0.1:9",
        HttpSettings(max_attempts=3),
        transport=httpx.MockTransport(answer),
        sleep=sleeps.append,
    )
    assert client.json("GET", "/a", retry=True) == {"ok": True}
    assert sleeps == [2.0]
    with pytest.raises(ClientError, match="Missing required param: customer"):
        client.send("POST", "/b", retry=True)
    with pytest.raises(ClientError, match="asked not to retry"):
        client.send("POST", "/c", retry=True)
    assert len(sent) == 4


def test_retries_stop_after_max_attempts() -> None:
    client = HttpClient(
        "http://127.0.0.1:9",
        HttpSettings(max_attempts=3),
        transport=httpx.MockTransport(lambda _: httpx.Response(429, json={})),
        sleep=lambda _: None,
    )
    with pytest.raises(RateLimitedError):
        client.send("GET", "/", retry=True)


def test_retry_after_as_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None


def test_stripe_amounts_are_exact_minor_units() -> None:
    assert stripe_minor_units(Decimal("99.05"), "usd") == 9905
    assert stripe_minor_units(Decimal("1200"), "JPY") == 1200
    assert stripe_minor_units(Decimal("1.230"), "KWD") == 1230
    with pytest.raises(UnsupportedAmountError, match=r"multiples of 0\.010"):
        stripe_minor_units(Decimal("1.235"), "KWD")
    with pytest.raises(UnsupportedAmountError, match="more decimals"):
        stripe_minor_units(Decimal("0.5"), "JPY")


def test_an_unrepresentable_amount_fails_before_any_request(
    server: tuple[FakeBilling, str],
) -> None:
    fake, base_url = server
    target = StripeTarget(settings_for(base_url))
    version = make_version("sub_k/2022-10-01", "cust_1", "KWD", [("Usage", 1, Decimal(1))])
    line = replace(version.lines[0], amount=Decimal("1.235"))
    bad = Document("stripe", 0, replace(version, lines=(line,), total=line.amount), key="k")
    with pytest.raises(UnsupportedAmountError):
        target.push(Job(bad, "cus_1", False, None, lambda _: None))
    assert fake.log == []


def _cli(
    database: Path, *args: str, environment: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN_DIR / "usage-billing"), *args, "--profiles-dir", str(REPO_DIR)],
        env={
            **os.environ,
            **environment,
            "USAGE_BILLING_DUCKDB_PATH": str(database),
            "COLUMNS": "250",
        },
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_dry_run_unmapped_refused_and_status(
    server: tuple[FakeBilling, str], tmp_path: Path
) -> None:
    fake, base_url = server
    database = tmp_path / "warehouse.duckdb"
    rng = random.Random(3)
    versions = [
        make_version(
            f"sub_{n}/2022-10-01",
            customer,
            "USD",
            [("Usage", rng.randint(1, 999), Decimal("0.10"))],
        )
        for n, customer in enumerate(["cust_1", "cust_2", "cust_3"])
    ]
    write_marts(database, versions)
    secrets = environment_for(base_url)

    dry = _cli(database, "push", "--to", "stripe", "--dry-run", environment={})
    assert dry.returncode == 0, dry.stderr
    assert "sub_0/2022-10-01" in dry.stdout and "unmapped" in dry.stdout
    assert "nothing sent" in dry.stdout

    missing = _cli(database, "push", "--to", "stripe", environment={})
    assert missing.returncode == 1
    assert "USAGE_BILLING_STRIPE_API_KEY" in missing.stderr

    for customer, external in [("cust_1", "cus_1"), ("cust_2", "cus_refused")]:
        mapped = _cli(database, "map-customer", "stripe", customer, external, environment={})
        assert mapped.returncode == 0, mapped.stderr
    dry = _cli(database, "push", "--to", "stripe", "--dry-run", environment=secrets)
    assert "sk_test_fake" not in dry.stdout + dry.stderr

    pushed = _cli(database, "push", "--to", "stripe", environment=secrets)
    assert pushed.returncode == 1  # one refused
    assert "1 sent, 1 failed, 1 skipped" in pushed.stdout
    assert "No such customer" in pushed.stderr
    assert "sk_test_fake" not in pushed.stdout + pushed.stderr
    assert len(fake.stripe_invoices) == 1

    status = _cli(database, "status", environment={})
    assert status.returncode == 0, status.stderr
    for expected in ("done", "failed", "skipped", "No such customer", "map-customer"):
        assert expected in status.stdout, expected

    again = _cli(database, "push", "--to", "stripe", environment=secrets)
    assert "0 sent, 1 failed, 1 skipped (unmapped), 1 already up to date" in again.stdout
    assert len(fake.stripe_invoices) == 1


def test_cli_summary_counts_each_invoice_once_after_resuming_pending_ones(
    server: tuple[FakeBilling, str], tmp_path: Path
) -> None:
    """Three invoices left pending by a run that could not reach Stripe, one of them changed
    since (so it takes two documents: the resumed one, then its amendment), one refused, and
    one invoice already sent: each is counted once, and the counts add up to the four."""
    fake, base_url = server
    database = tmp_path / "warehouse.duckdb"

    def version(invoice: str, customer: str, quantity: int) -> InvoiceVersion:
        return make_version(invoice, customer, "USD", [("Usage", quantity, Decimal("0.10"))])

    done_before = version("sub_done/2022-10-01", "cust_1", 10)
    write_marts(database, [done_before])
    for customer, external in [("cust_1", "cus_1"), ("cust_2", "cus_refused")]:
        mapped = _cli(database, "map-customer", "stripe", customer, external, environment={})
        assert mapped.returncode == 0, mapped.stderr
    first = _cli(database, "push", "--to", "stripe", environment=environment_for(base_url))
    assert "1 sent, 0 failed, 0 skipped (unmapped), 0 already up to date" in first.stdout

    resumed, changed, refused = (
        version("sub_a/2022-10-01", "cust_1", 20),
        version("sub_b/2022-10-01", "cust_1", 30),
        version("sub_c/2022-10-01", "cust_2", 40),
    )
    write_marts(database, [done_before, resumed, changed, refused])
    unreachable = environment_for(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    down = _cli(database, "push", "--to", "stripe", environment=unreachable)
    assert down.returncode == 1
    assert "0 sent, 3 failed, 0 skipped (unmapped), 1 already up to date" in down.stdout
    assert "the next run resumes it" in down.stderr

    changed_since = version(changed.invoice_id, "cust_1", 31)
    write_marts(database, [done_before, resumed, changed_since, refused])
    back = _cli(database, "push", "--to", "stripe", environment=environment_for(base_url))
    assert back.returncode == 1
    assert "2 sent, 1 failed, 0 skipped (unmapped), 1 already up to date" in back.stdout
    assert "No such customer" in back.stderr
    # Stripe holds the first invoice, the two resumed ones and the changed one's amendment.
    assert len(fake.stripe_invoices) == 4


@pytest.mark.parametrize(
    ("target", "variable"),
    [
        ("stripe", "STRIPE_API_BASE"),
        ("sequence", "SEQUENCE_API_BASE"),
        ("webhook", "WEBHOOK_URL"),
    ],
)
def test_plain_http_is_refused_unless_to_this_machine(target: str, variable: str) -> None:
    def settings(url: str) -> Settings:
        return load_settings({**environment_for(url), f"USAGE_BILLING_{variable}": url})

    for url in ("http://billing.example", "http://10.0.0.7:8080", "http://localhost.example"):
        with pytest.raises(ConfigError, match=f"USAGE_BILLING_{variable} is plain http") as error:
            make_target(target, settings(url))
        assert "https" in str(error.value)
    with pytest.raises(ConfigError, match=f"USAGE_BILLING_{variable} must be an https:// URL"):
        make_target(target, settings("ftp://billing.example"))
    for url in (
        "https://billing.example",
        "http://localhost:8080",
        "http://127.0.0.1:9",
        "http://127.1.2.3",
        "http://[::1]:9",
    ):
        make_target(target, settings(url)).close()


def test_cli_refuses_plain_http_before_any_request(
    server: tuple[FakeBilling, str], tmp_path: Path
) -> None:
    """The fake is the HTTP proxy, so a request to the plain-http host would reach it."""
    fake, base_url = server
    database = tmp_path / "warehouse.duckdb"
    invoice = make_version("sub_1/2022-10-01", "cust_1", "USD", [("Usage", 5, Decimal(1))])
    write_marts(database, [invoice])
    mapped = _cli(database, "map-customer", "stripe", "cust_1", "cus_1", environment={})
    assert mapped.returncode == 0, mapped.stderr
    environment = {
        **environment_for("http://billing.example"),
        "HTTP_PROXY": base_url,
        "http_proxy": base_url,
        "NO_PROXY": "",
        "no_proxy": "",
    }
    pushed = _cli(database, "push", "--to", "stripe", environment=environment)
    assert pushed.returncode == 1
    assert "USAGE_BILLING_STRIPE_API_BASE is plain http to 'billing.example'" in pushed.stderr
    assert "sk_test_fake" not in pushed.stdout + pushed.stderr
    assert fake.log == []
