"""The data the portability suite builds on every engine: the demo, and the scenarios of the
DuckDB suites (imported from them, so both always test the same rows)."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tests.pipeline import test_incremental, test_metrics, test_unbilled_usage
from tests.pricing import test_pricing_models
from tests.support import money_scenario
from tests.support.warehouse_scenario import Pricing
from usage_billing.events.demo import demo_events


@dataclass(frozen=True)
class ScenarioData:
    """Raw events (tuples in raw column order), pricing tables (None: the demo seeds) and vars.
    `rerun_of` names a scenario built just before whose tables a second `dbt build` runs on,
    loading nothing: an incremental run, with its delete+insert and snapshot merges.
    `interrupted_after` names a model run alone (`dbt run -s`) on the loaded events before the
    build: what a build killed right after that model committed leaves behind; such a rerun
    loads its events (the earlier scenario's and new ones) first."""

    events: Sequence[Sequence[Any]]
    pricing: Pricing | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    rerun_of: str | None = None
    interrupted_after: str | None = None
    # Later arrivals: each load's raw events (all loaded so far) and pricing, followed by a build.
    later_loads: Sequence[tuple[Sequence[Sequence[Any]], Pricing]] = ()


def _demo() -> ScenarioData:
    return ScenarioData(
        [
            (
                event.event_id,
                event.customer_alias,
                event.event_type,
                event.event_timestamp,
                event.event_properties,
                event.loaded_at,
            )
            for event in demo_events()
        ]
    )


# Ten API calls loaded a day after the demo's events, into its (final) October invoice.
LATE_API_CALLS = 10


def _demo_interrupted() -> ScenarioData:
    late = [
        (
            f"evt_late_{number:02d}",
            "acme_corp",
            "api_request",
            f"2022-10-30T12:00:{number:02d}Z",
            '{"endpoint": "/v1/score"}',
            "2022-11-02 00:00:00",
        )
        for number in range(LATE_API_CALLS)
    ]
    return dataclasses.replace(
        _demo(),
        events=[*_demo().events, *late],
        rerun_of="demo",
        interrupted_after="usage_billing__int_usage_events_validated",
    )


def _pricing_models() -> ScenarioData:
    module = test_pricing_models
    return ScenarioData(
        [event for case in module.CASES for event in module._events(case)],
        module._pricing(),
        {"usage_billing_metrics": module.METRICS, "usage_billing_as_of": module.AS_OF},
    )


def _metrics() -> ScenarioData:
    return ScenarioData(test_metrics.EVENTS, test_metrics.scenario_pricing(), test_metrics.VARS)


def _unbilled() -> ScenarioData:
    module = test_unbilled_usage
    return ScenarioData(module.EVENTS, module.PRICING, module.VARS)


def _money() -> ScenarioData:
    return ScenarioData(money_scenario.EVENTS, money_scenario.PRICING, money_scenario.VARS)


# The raw columns test_incremental's rows carry (it stamps loaded_at on loading).
RAW_EVENT_FIELDS = [
    "event_id",
    "customer_alias",
    "event_type",
    "event_timestamp",
    "event_properties",
]


def _replay() -> ScenarioData:
    """tests/pipeline/test_incremental.py's arrival-order stream (its first seed) in two loads, a
    build after each: its first two batches (a first build), then its last two (an incremental
    build: replaced versions, stragglers, the re-pointed alias and the customer added late).
    Two builds, not four: Spark's take minutes each."""
    module = test_incremental
    rng = random.Random(7)
    batches, newest, loaded = module._stream(rng), module.FIRST_LOAD, []
    loads = []
    for number, batch in enumerate(batches):
        loaded_at = [newest + timedelta(hours=3, minutes=rng.randrange(60)) for _ in batch]
        if number > 0 and batch:
            loaded_at[0] = newest - timedelta(minutes=30)  # a straggler, as in that test
        newest = max([newest, *loaded_at])
        loaded += [
            (*(row[name] for name in RAW_EVENT_FIELDS), at)
            for row, at in zip(batch, loaded_at, strict=True)
        ]
        if number in (1, 3):
            loads.append((list(loaded), module._pricing(with_ghost=number >= 2)))
    vars_ = {**module.VARS, "usage_billing_dedup_scope": "customer"}
    (first_events, first_pricing), *later = loads
    return ScenarioData(first_events, first_pricing, vars_, later_loads=later)


SCENARIOS: dict[str, Callable[[], ScenarioData]] = {
    "demo": _demo,
    "demo_incremental": lambda: dataclasses.replace(_demo(), rerun_of="demo"),
    "demo_interrupted": _demo_interrupted,
    "pricing_models": _pricing_models,
    "metrics": _metrics,
    "unbilled": _unbilled,
    "money": _money,
    "replay": _replay,
}
