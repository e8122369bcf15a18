"""The arrival-order replay's data: a generated event stream with duplicates, corrections,
late events, stragglers and bad rows, in batches in the order they arrive, and the pricing it is
billed by. Some of it bills nowhere (usage_billing__unbilled_usage): page views no metric reads,
usage before the subscriptions start or after gamma's ends, and usage after the billing clock;
later batches add to, and move events in and out of, those customer-days. The DuckDB suites
replay it (tests/pipeline/test_incremental.py) and so does the portability suite on the other
engines (tests/engines/scenarios.py): an incremental build after each batch must give what a
full refresh gives."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.support.warehouse_scenario import Pricing

D = Decimal
CUSTOMERS = ["alpha", "beta", "gamma", "ghost"]  # ghost's alias arrives only halfway
# alpha's second alias, re-pointed to beta halfway: its events move, and ids they share with
# alpha's own events (re-sends under the other alias) stop being repeats of them.
SECOND_ALIAS = "alpha_eu"
ALIASES = [*CUSTOMERS, SECOND_ALIAS]
FIRST_LOAD = datetime(2024, 3, 15, 0, 0)
# Events from a week before the subscriptions start (1 January) to past the end of March's
# period, the last one the billing clock (20 March) has started: April's usage bills nowhere.
STREAM_START = datetime(2023, 12, 25)
STREAM_DAYS = 103
# gamma's subscription ends on 10 March once repriced: its billing windows change, so every
# one of its days is classified again, and its later usage becomes unbilled.
GAMMA_END = "2024-03-10"
VARS: dict[str, Any] = {
    "usage_billing_as_of": "2024-03-20 00:00:00",
    "usage_billing_metrics": [
        {"name": "requests", "event_type": "request", "aggregation": "count"},
        {"name": "volume", "event_type": "payment", "aggregation": "sum", "property": "amount"},
        {"name": "peak_gb", "event_type": "storage", "aggregation": "max", "property": "gb"},
        {
            "name": "users",
            "event_type": "request",
            "aggregation": "count_distinct",
            "property": "user",
        },
        {
            "name": "seats",
            "event_type": "seats",
            "aggregation": "time_weighted",
            "property": "seats",
        },
    ],
}


def pricing(repriced: bool) -> Pricing:
    """The pricing before REPRICED_BATCH, or from it on (`repriced`)."""
    customers = [name for name in CUSTOMERS if repriced or name != "ghost"]
    prices = [
        ("requests", "per_unit", D("0.01")),
        ("volume", "graduated", None),
        ("peak_gb", "per_unit", D("0.5")),
        ("users", "per_unit", D(2)),
        ("seats", "per_unit", D(10)),
    ]
    return Pricing(
        customers=[{"customer_id": f"cus_{name}", "name": name} for name in CUSTOMERS],
        customer_aliases=[{"alias": name, "customer_id": f"cus_{name}"} for name in customers]
        + [{"alias": SECOND_ALIAS, "customer_id": "cus_beta" if repriced else "cus_alpha"}],
        plans=[{"plan_id": "metered", "name": "Metered"}],
        subscriptions=[
            {
                "subscription_id": f"sub_{name}",
                "customer_id": f"cus_{name}",
                "plan_id": "metered",
                "currency": "EUR",
                "start_date": "2024-01-01",
                "end_date": GAMMA_END if repriced and name == "gamma" else None,
            }
            for name in CUSTOMERS
        ],
        prices=[
            {
                "price_id": f"price_{metric}",
                "plan_id": "metered",
                "metric": metric,
                "pricing_model": model,
                "description": metric,
                "unit_price": rate,
                "effective_from": "2023-01-01",
            }
            for metric, model, rate in prices
        ]
        + [
            {
                "price_id": "price_fee",
                "plan_id": "metered",
                "pricing_model": "flat",
                "description": "Platform fee",
                "flat_amount": D(100),
                "effective_from": "2023-01-01",
            }
        ],
        price_tiers=[
            {"price_id": "price_volume", "tier": 1, "up_to": D(1000), "unit_price": D("0.02")},
            {"price_id": "price_volume", "tier": 2, "up_to": None, "unit_price": D("0.01")},
        ],
    )


def stream(rng: random.Random) -> list[list[dict[str, Any]]]:
    """Raw rows in batches, in arrival order; corrections and re-sends arrive after originals."""
    batches: list[list[dict[str, Any]]] = [[] for _ in range(4)]

    def moment() -> str:
        seconds = rng.randrange(STREAM_DAYS * 86400)
        return (STREAM_START + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def payload(kind: str) -> str:
        if kind == "request":
            return json.dumps({"user": rng.choice("abcdef")})
        if kind == "payment":
            return json.dumps({"amount": rng.randrange(1, 40000) / 100})
        if kind == "storage":
            return json.dumps({"gb": rng.randrange(1, 500)})
        if kind == "page_view":  # no metric reads page views: matches_no_metric
            return json.dumps({"path": rng.choice(["/", "/pricing", "/docs"])})
        return json.dumps({"seats": rng.randrange(1, 30)})

    for number in range(240):
        kind = rng.choice(["request", "request", "payment", "storage", "seats", "page_view"])
        row = {
            "event_id": f"e{number}",
            "customer_alias": rng.choice(ALIASES),
            "event_type": kind,
            "event_timestamp": moment(),
            "event_properties": payload(kind),
        }
        arrival = rng.randrange(4)
        batches[arrival].append(row)
        later = rng.randrange(arrival, 4)
        roll = rng.random()
        if roll < 0.08:  # re-sent as is
            batches[later].append(dict(row))
        elif roll < 0.16:  # corrected: new payload, maybe another month
            batches[later].append(
                {**row, "event_properties": payload(kind), "event_timestamp": moment()}
            )
        elif roll < 0.19:  # a malformed re-send that must not hide the good row
            batches[later].append({**row, "event_properties": "{broken"})
        elif roll < 0.24:  # another alias's event with the same id (an order number, say)
            other = rng.choice([alias for alias in ALIASES if alias != row["customer_alias"]])
            batches[later].append(
                {**row, "customer_alias": other, "event_properties": payload(kind)}
            )
    batches[rng.randrange(4)].append(
        {
            "event_id": "bad1",
            "customer_alias": "alpha",
            "event_type": "request",
            "event_timestamp": None,
            "event_properties": "{}",
        }
    )
    _move_unbilled_usage(batches)
    return batches


def event(
    event_id: str | None, kind: str, at: str, properties: Any, alias: str = "alpha"
) -> dict[str, Any]:
    """One raw event row; `properties` as JSON, or as text when already a string (malformed)."""
    return {
        "event_id": event_id,
        "customer_alias": alias,
        "event_type": kind,
        "event_timestamp": at,
        "event_properties": properties if isinstance(properties, str) else json.dumps(properties),
    }


def _move_unbilled_usage(batches: list[list[dict[str, Any]]]) -> None:
    """Rows that change unbilled customer-days after the first build, whatever the seed: the
    last batch adds a page view to a day already unbilled, corrects a request made before the
    subscriptions started into January (unbilled to billed) and a February payment into April,
    after the clock (billed to unbilled)."""

    def beta(event_id: str, kind: str, at: str, properties: dict[str, Any]) -> dict[str, Any]:
        return event(event_id, kind, at, properties, alias="beta")

    early = beta("early1", "request", "2023-12-30T12:00:00Z", {"user": "a"})
    paid = beta("paid1", "payment", "2024-02-12T08:00:00Z", {"amount": 12.5})
    batches[0] += [beta("view1", "page_view", "2024-02-05T09:00:00Z", {"path": "/"}), early, paid]
    batches[-1] += [
        beta("view2", "page_view", "2024-02-05T17:00:00Z", {"path": "/docs"}),
        {**early, "event_timestamp": "2024-01-03T12:00:00Z"},
        {**paid, "event_timestamp": "2024-04-02T08:00:00Z"},
    ]


# The pricing changes before this batch: ghost's alias arrives, alpha_eu moves to beta.
REPRICED_BATCH = 2


def arrivals(rng: random.Random) -> list[list[dict[str, Any]]]:
    """stream()'s batches, each row with the `loaded_at` it arrives with: about three hours
    after the newest row before it, and the first row of each later batch a straggler,
    committed after the last build but stamped half an hour before that build's newest row.
    From the third batch on, each also brings the first row of the batch two before it again,
    as it was loaded then (the same file loaded twice): stamped before the window the next
    build reads, which that build finds by counting (docs/late-data.md)."""
    newest = FIRST_LOAD
    batches: list[list[dict[str, Any]]] = []
    for number, batch in enumerate(stream(rng)):
        loaded_at = [newest + timedelta(hours=3, minutes=rng.randrange(60)) for _ in batch]
        if number > 0 and batch:
            loaded_at[0] = newest - timedelta(minutes=30)
        newest = max([newest, *loaded_at])
        rows = [{**row, "loaded_at": at} for row, at in zip(batch, loaded_at, strict=True)]
        batches.append(rows + ([dict(batches[number - 2][0])] if number >= 2 else []))
    return batches
