"""The data the portability suite builds on every engine: the demo, the scenarios of the
DuckDB suites (imported from them, so both always test the same rows), and the pricing
property cases, drawn as the DuckDB property test draws them."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.pipeline import test_metrics, test_unbilled_usage
from tests.pricing import test_pricing_models
from tests.support import arrival_replay, money_scenario
from tests.support.pricing_cases import Case, build_vars, tables
from tests.support.pricing_properties import SEED, property_cases
from tests.support.warehouse_scenario import Pricing, column_names
from usage_billing.events.contract import RAW_EVENTS_COLUMNS
from usage_billing.events.demo import demo_events


@dataclass(frozen=True)
class ScenarioData:
    """Raw events (tuples in raw column order), pricing tables (None: the demo seeds) and vars.
    `rerun_of` names a scenario built just before whose tables a second `dbt build` runs on,
    loading nothing: an incremental run, with its delete+insert and snapshot merges.
    `interrupted_after` names a model run alone (`dbt run -s`) on the loaded events before the
    build: what a build killed right after that model committed leaves behind; such a rerun
    loads its events (the earlier scenario's and new ones) first.
    `batches` replays arrivals: the events are loaded batch by batch, with an incremental build
    after each, and a `--full-refresh` build after the last (runner.replay). `cases` are the
    pricing property cases the tables hold, which the runner writes beside the marts for the
    test."""

    events: Sequence[Sequence[Any]]
    pricing: Pricing | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    rerun_of: str | None = None
    interrupted_after: str | None = None
    batches: Sequence[Batch] = ()
    cases: Sequence[Case] = ()
    # False: the replay ends with its last incremental build (no --full-refresh build after).
    full_refresh_after: bool = True


@dataclass(frozen=True)
class Batch:
    """Raw rows that arrive together, and the pricing from then on (None: unchanged)."""

    events: Sequence[Sequence[Any]]
    pricing: Pricing | None = None


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


# The DuckDB suites' first replay (seed 7, each customer's own event ids). "replay" has three
# loads, its first two batches together (a first build), then one batch each, and a
# --full-refresh build after; "replay_in_two_loads", for Spark, whose builds take minutes, has
# the first two batches, then the last two (an incremental build: replaced versions, stragglers,
# the re-pointed alias and the customer added late), and no full refresh: DuckDB's same two
# builds are its reference, and "replay" shows DuckDB's incremental builds equal a full refresh.
REPLAY_SEED = 7


def _replay(loads: int = 3) -> ScenarioData:
    names = column_names(RAW_EVENTS_COLUMNS)
    first, second, *later = arrival_replay.arrivals(random.Random(REPLAY_SEED))
    rest = [[row for batch in later for row in batch]] if loads == 2 else later
    grouped = [first + second, *rest]
    batches = [
        Batch(
            [tuple(row[name] for name in names) for row in rows],
            # The second load starts with the batch the pricing changes before (REPRICED_BATCH).
            arrival_replay.pricing(repriced=number > 1) if number <= 2 else None,
        )
        for number, rows in enumerate(grouped, start=1)
    ]
    return ScenarioData(
        [event for batch in batches for event in batch.events],
        batches[0].pricing,
        arrival_replay.VARS,
        batches=batches,
        full_refresh_after=loads == 3,
    )


# A tenth of each kind the DuckDB property test draws (200 usage prices, 30 calendars, 20 credit
# set-ups) and its regressions, from the suite's seed: one build per engine, held to the oracle
# (test_pricing_oracle.py). A case costs a build almost nothing; a build on Spark, minutes.
# The runner hands back the cases it drew: hypothesis biases its draws with constants found in
# the modules a process has loaded, so the test's process would draw others from the same seed.
PROPERTY_SHARE = 0.1


def _properties() -> ScenarioData:
    cases = property_cases(SEED, PROPERTY_SHARE)
    pricing, events = tables(cases)
    return ScenarioData(events, pricing, build_vars(), cases=cases)


SCENARIOS: dict[str, Callable[[], ScenarioData]] = {
    "demo": _demo,
    "demo_incremental": lambda: dataclasses.replace(_demo(), rerun_of="demo"),
    "demo_interrupted": _demo_interrupted,
    "pricing_models": _pricing_models,
    "metrics": _metrics,
    "unbilled": _unbilled,
    "money": _money,
    "replay": _replay,
    "replay_in_two_loads": lambda: _replay(loads=2),
    "properties": _properties,
}
