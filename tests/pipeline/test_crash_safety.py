"""No silent wrong invoice (#21): whatever earlier builds left stored, a normal `dbt build` gives
every mart a `--full-refresh` build gives, to the row and the cent, or fails saying so.

Stored rows can be out of step with the events in three ways, one test each:
- an earlier build stopped between two models: `dbt run -s +M` for each incremental model M,
  found in the manifest, leaves what a build killed right after M committed leaves;
- builds killed with SIGKILL at seeded random moments, DuckDB's write-ahead log and all;
- an input changed after usage was stored: a metric's filter or aggregation, a new metric, the
  dedup policy, a column var, a customer's time zone, an alias re-pointed to another customer.

invoice_revisions is never compared with a full refresh: it reads the snapshot's history, which
a full refresh does not reset. Instead each invoice's current revision must be the invoice."""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.pipeline.test_incremental import _load, _write_pricing
from tests.support.arrival_replay import FIRST_LOAD, VARS
from tests.support.arrival_replay import pricing as replay_pricing
from tests.support.killable_dbt import KillPoint, run_and_kill
from tests.support.warehouse_scenario import (
    MARTS_SCHEMA,
    PROJECT_DIR,
    REPO_DIR,
    DbtFailedError,
    Pricing,
    incremental_models,
    project_manifest,
    run_dbt,
    write_table,
)
from usage_billing.events.contract import RAW_EVENTS_COLUMNS

D = Decimal
BASE_VARS: dict[str, Any] = {**VARS, "usage_billing_pricing_schema": "pricing"}
JANUARY, FEBRUARY, MARCH = datetime(2024, 1, 1), datetime(2024, 2, 1), datetime(2024, 3, 1)
AS_OF = datetime.fromisoformat(VARS["usage_billing_as_of"])  # January and February are final
# alpha-eu is alpha's second alias; nobody has none, so its events are rejected.
ALIASES = ["alpha", "alpha-eu", "beta", "gamma", "ghost", "nobody"]
# A normal build, less dbt's data tests and the seeds: the tests run in the build that sets the
# stage (elsewhere they would check nothing the comparisons with a full refresh do not), the
# seeds are loaded by its first build and never change (reloading them is a fifth of a build).
BUILD = ["build", "--exclude", "resource_type:test", "resource_type:seed"]
KNOWN_INCREMENTAL = {
    "usage_billing__int_usage_events_validated",
    "usage_billing__int_usage_events_matched_to_metrics",
    "usage_billing__int_usage_by_billing_period",
    "usage_billing__metric_usage_daily",
}
# Tables as compared: column names, and rows in order.
Tables = dict[str, tuple[list[str], list[tuple[Any, ...]]]]


# --- The scenario: a first batch, then batches of new, late and corrected events. ---


def _moment(rng: random.Random, start: datetime, end: datetime) -> str:
    seconds = rng.randrange(int((end - start).total_seconds()))
    return (start + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _payload(rng: random.Random, kind: str) -> str:
    if kind == "request":  # bytes is read by no metric until one is added
        return json.dumps({"user": rng.choice("abcdef"), "bytes": rng.randrange(1, 5000)})
    if kind == "payment":
        return json.dumps({"amount": rng.randrange(1, 40000) / 100})
    if kind == "storage":
        return json.dumps({"gb": rng.randrange(1, 500)})
    return json.dumps({"seats": rng.randrange(1, 30)})


def _event(
    rng: random.Random, event_id: str, start: datetime, end: datetime, alias: str | None = None
) -> dict[str, Any]:
    kind = rng.choice(["request", "request", "payment", "storage", "seats"])
    return {
        "event_id": event_id,
        "customer_alias": alias or rng.choice(ALIASES),
        "event_type": kind,
        "event_timestamp": _moment(rng, start, end),
        "event_properties": _payload(rng, kind),
    }


def _first_batch(rng: random.Random) -> list[dict[str, Any]]:
    """Events over the three months of every alias, a malformed one among them."""
    rows = [_event(rng, f"e{number}", JANUARY, AS_OF) for number in range(160)]
    # Three hours either side of each month's turn, where a customer's time zone decides the
    # period an event is billed in.
    for alias in ALIASES:
        for turn in (FEBRUARY, MARCH):
            for hours in (-3, 3):
                at = turn + timedelta(hours=hours)
                until = at + timedelta(minutes=1)
                rows.append(_event(rng, f"{alias}@{at:%m-%d %H}", at, until, alias))
    rows.append({**rows[0], "event_id": "broken", "event_properties": "{broken"})
    return rows


def _next_batch(
    rng: random.Random, number: int, known: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """New events in the live month, late ones in the closed months, corrections of known
    events (same event_id, new payload, half of them at a new moment) and identical re-sends;
    `known` gets the new versions."""
    rows = [_event(rng, f"b{number}-new{n}", MARCH, AS_OF) for n in range(30)]
    rows += [_event(rng, f"b{number}-late{n}", JANUARY, MARCH) for n in range(10)]
    for event_id in rng.sample(sorted(known), 14):
        corrected = {**known[event_id]}
        corrected["event_properties"] = _payload(rng, corrected["event_type"])
        if rng.random() < 0.5:
            corrected["event_timestamp"] = _moment(rng, JANUARY, AS_OF)
        rows.append(corrected)
    rows += [dict(known[event_id]) for event_id in rng.sample(sorted(known), 4)]
    rng.shuffle(rows)
    known.update({row["event_id"]: row for row in rows})
    return rows


def _arrive(
    database: Path, rows: list[dict[str, Any]], rng: random.Random, newest: datetime
) -> datetime:
    """Load the rows a few hours after the newest load so far; the first is a straggler,
    committed after the last run but stamped before that run's newest row. Returns the newest
    load time."""
    loaded_at = [newest + timedelta(hours=3, minutes=rng.randrange(60)) for _ in rows]
    loaded_at[0] = newest - timedelta(minutes=30)
    _load(database, rows, loaded_at)
    return max(loaded_at)


def _scenario_pricing() -> Pricing:
    """test_incremental's prices, with a second alias for alpha, beta in Paris (UTC+1 in
    winter) and a credit grant for gamma, so that credit_balances has rows to compare."""
    pricing = replay_pricing(repriced=True)
    pricing.customer_aliases.append({"alias": "alpha-eu", "customer_id": "cus_alpha"})
    pricing.customers = [
        {**customer, "timezone": "Europe/Paris"} if customer["name"] == "beta" else customer
        for customer in pricing.customers
    ]
    pricing.credit_grants.append(
        {
            "grant_id": "grant_gamma",
            "customer_id": "cus_gamma",
            "currency": "EUR",
            "amount": D(150),
            "granted_at": JANUARY,
        }
    )
    return pricing


# --- Where builds run, and what they are compared by. ---


@dataclass
class Bench:
    """The one DuckDB path every build of this module runs at, saved databases copied in and
    out: dbt parses the whole project again (6 to 9 s) when the connection's path changes."""

    database: Path

    @property
    def leftovers(self) -> list[Path]:
        """What a killed DuckDB process may leave beside the file: its write-ahead log and
        spill directory."""
        return [Path(f"{self.database}.wal"), Path(f"{self.database}.tmp")]

    def restore(self, saved: Path) -> None:
        for leftover in self.leftovers:  # a log replayed onto another database would corrupt it
            if leftover.is_dir():
                shutil.rmtree(leftover)
            leftover.unlink(missing_ok=True)
        shutil.copy(saved, self.database)

    def save(self, path: Path) -> Path:
        assert not self.leftovers[0].exists(), "saving a database whose log was not replayed"
        shutil.copy(self.database, path)
        return path


@dataclass
class Base:
    """The stage every test starts from: two normal builds, the second after new, late and
    corrected events, so event_ids repeat and closed invoices were revised."""

    database: Path
    newest_load: datetime
    known: dict[str, dict[str, Any]]
    incremental: list[str]
    compared: list[str]
    tables: Tables = field(default_factory=dict)


def _compared_tables(manifest: Mapping[str, Any]) -> list[str]:
    """Every mart (each model under models/marts, so a new one is compared too) but
    invoice_revisions (see the module docstring), and int_usage_by_billing_period, which
    invoices are priced from."""
    marts = [
        node["alias"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["package_name"] == "usage_billing"
        and "marts" in node["fqn"]
        and node["name"] != "usage_billing__invoice_revisions"
    ]
    return sorted([*marts, "usage_billing__int_usage_by_billing_period"])


def _tables(database: Path, names: Sequence[str]) -> Tables:
    with duckdb.connect(str(database), read_only=True) as connection:
        tables: Tables = {}
        for name in names:
            cursor = connection.execute(f"select * from {MARTS_SCHEMA}.{name} order by all")
            columns = [column[0] for column in cursor.description]
            tables[name] = (columns, cursor.fetchall())
        return tables


def _common_prefix(row: tuple[Any, ...], other: tuple[Any, ...]) -> int:
    pairs = enumerate(zip(row, other, strict=True))
    return next((index for index, (mine, theirs) in pairs if mine != theirs), len(row))


def _differences(got: Tables, expected: Tables) -> list[str]:
    """Each table that differs, with its first differing rows. A row is paired with the
    expected row sharing the longest run of leading columns (the keys come first in every
    mart) to name the columns that differ: "invoices ...: invoice_id inv_1: total 827 vs 837"."""
    problems = []
    for name, (columns, expected_rows) in expected.items():
        got_rows = got[name][1]
        if got_rows == expected_rows:
            continue
        extra = list(Counter(got_rows) - Counter(expected_rows))
        missing = list(Counter(expected_rows) - Counter(got_rows))
        details = []
        for row in extra[:3]:
            other = max(missing, key=lambda candidate: _common_prefix(row, candidate), default=None)
            if other is None or _common_prefix(row, other) == 0:
                details.append(f"only in the normal build: {row}")
                continue
            missing.remove(other)
            key = _common_prefix(row, other)
            changed = ", ".join(
                f"{column} {mine} vs {theirs}"
                for column, mine, theirs in zip(columns, row, other, strict=True)
                if mine != theirs
            )
            details.append(f"{'|'.join(map(str, row[:key]))}: {changed}")
        details += [f"only in the full refresh: {row}" for row in missing[:3]]
        problems.append(
            f"{name} differs from a full refresh ({len(got_rows)} rows vs {len(expected_rows)},"
            f" {len(extra)} not in it): " + "; ".join(details)
        )
    return problems


def _revision_problems(database: Path) -> list[str]:
    """Invoices whose current revision in invoice_revisions is not the invoice itself: the
    snapshot must have recorded what the last build showed."""
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(
            f"""
            select invoices.invoice_id, invoices.total, revisions.total
            from {MARTS_SCHEMA}.usage_billing__invoices as invoices
            left join {MARTS_SCHEMA}.usage_billing__invoice_revisions as revisions
                on invoices.invoice_id = revisions.invoice_id and revisions.is_current
            where revisions.content_hash is distinct from invoices.content_hash
            order by all
            """
        ).fetchall()
    return [
        f"invoice_revisions: {invoice_id}'s current revision (total {revised})"
        f" is not the invoice (total {total})"
        for invoice_id, total, revised in rows
    ]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Bench:
    return Bench(tmp_path_factory.mktemp("bench") / "warehouse.duckdb")


@pytest.fixture(scope="module")
def base(bench: Bench, tmp_path_factory: pytest.TempPathFactory) -> Base:
    rng = random.Random(21)
    with duckdb.connect(str(bench.database)) as connection:
        write_table(connection, "raw", "usage_events", RAW_EVENTS_COLUMNS, [])
    _write_pricing(bench.database, _scenario_pricing())
    manifest = project_manifest(bench.database, BASE_VARS)
    first = _first_batch(rng)
    known = {row["event_id"]: row for row in first if row["event_id"] != "broken"}
    _load(bench.database, first, [FIRST_LOAD] * len(first))
    run_dbt(["build", "--exclude", "resource_type:test"], bench.database, BASE_VARS)
    newest = _arrive(bench.database, _next_batch(rng, 1, known), rng, FIRST_LOAD)
    run_dbt(["build"], bench.database, BASE_VARS)
    saved = bench.save(tmp_path_factory.mktemp("base") / "warehouse.duckdb")
    stage = Base(saved, newest, known, incremental_models(manifest), _compared_tables(manifest))
    stage.tables = _tables(saved, stage.compared)
    for name in [
        "usage_billing__invoice_lines",
        "usage_billing__metric_usage_daily",
        "usage_billing__credit_balances",
        "usage_billing__usage_events_rejected",
    ]:
        assert stage.tables[name][1], f"the scenario leaves {name} empty"
    return stage


# --- The tests. ---


def test_a_build_after_a_partial_run_equals_a_full_refresh(
    bench: Bench, base: Base, tmp_path: Path
) -> None:
    """For each incremental model M (every one the manifest names): a batch of new, late and
    corrected events is loaded, `dbt run -s +M` runs M and its ancestors, as a build killed
    right after M committed leaves them, then a normal build runs. Its tables must be a full
    refresh's: the partial run's rows must not be stranded upstream of what the build reads."""
    assert set(base.incremental) >= KNOWN_INCREMENTAL, base.incremental
    rng = random.Random(2)
    bench.restore(base.database)
    _arrive(bench.database, _next_batch(rng, 2, dict(base.known)), rng, base.newest_load)
    loaded = bench.save(tmp_path / "loaded.duckdb")
    run_dbt([*BUILD, "--full-refresh"], bench.database, BASE_VARS)
    reference = _tables(bench.database, base.compared)
    assert (
        reference["usage_billing__invoice_lines"] != base.tables["usage_billing__invoice_lines"]
    ), "the batch billed nothing"

    problems = []
    for model in base.incremental:
        bench.restore(loaded)
        run_dbt(["run", "--select", f"+{model}"], bench.database, BASE_VARS)
        run_dbt(BUILD, bench.database, BASE_VARS)
        found = _differences(_tables(bench.database, base.compared), reference)
        found += _revision_problems(bench.database)
        problems += [f"after `dbt run -s +{model}` and `dbt build`: {problem}" for problem in found]
    assert not problems, "\n".join(problems)


ROUNDS = 4
KILLS_PER_ROUND = 5
MAX_DELAY_MS = 500


def test_builds_killed_at_random_moments_leave_no_wrong_invoice(bench: Bench, base: Base) -> None:
    """Rounds of: a batch of new, late and corrected events is loaded; builds are killed with
    SIGKILL (the whole process group) a seeded delay after a seeded node started; a normal build
    runs to the end. DuckDB replays the log a killed build left when the next one opens the file
    (and a dead process holds no lock: the next build could not open it otherwise). After the
    rounds, every table must be a full refresh's; a failure lists the kill points."""
    rng = random.Random(2124)  # the batches
    kill_rng = random.Random(4212)  # the kill points: a build that finishes draws again
    newest = base.newest_load
    bench.restore(base.database)
    command = [
        *BUILD,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(REPO_DIR),
        "--target-path",
        str(bench.database.parent / "target"),
        "--log-path",
        str(bench.database.parent / "logs"),
        "--vars",
        json.dumps(BASE_VARS),
    ]
    environment = {
        "USAGE_BILLING_TARGET": "duckdb",
        "USAGE_BILLING_DUCKDB_PATH": str(bench.database),
        "DBT_USE_COLORS": "false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }

    def kill_point(nodes: int) -> KillPoint:
        return KillPoint(kill_rng.randint(1, nodes), kill_rng.randint(0, MAX_DELAY_MS))

    known = dict(base.known)
    kills: list[str] = []
    for round_number in range(ROUNDS):
        newest = _arrive(bench.database, _next_batch(rng, 10 + round_number, known), rng, newest)
        killed = 0
        while killed < KILLS_PER_ROUND:
            # A point past the last node lets the build finish: draw again, a few times.
            assert len(kills) < ROUNDS * KILLS_PER_ROUND * 2, "\n".join(kills)
            outcome = run_and_kill(command, environment, kill_point)
            log_left = " (left a .wal)" if bench.leftovers[0].exists() else ""
            kills.append(f"round {round_number}: {outcome.description}{log_left}")
            killed += outcome.killed
        run_dbt(BUILD, bench.database, BASE_VARS)

    problems = _revision_problems(bench.database)
    incremental = _tables(bench.database, base.compared)
    run_dbt([*BUILD, "--full-refresh"], bench.database, BASE_VARS)
    problems += _differences(incremental, _tables(bench.database, base.compared))
    assert not problems, "\n".join([*problems, "kill points:", *kills])


@dataclass(frozen=True)
class Change:
    """An input changed after usage was stored: the vars after it, SQL changing the tables,
    and the words a build that refuses it must name (any one of them)."""

    vars_: Mapping[str, Any]
    sql: str
    names: tuple[str, ...]


def _with_metric(name: str, **fields: Any) -> dict[str, Any]:
    metrics = [
        {**metric, **fields} if metric["name"] == name else metric
        for metric in VARS["usage_billing_metrics"]
    ]
    return {**BASE_VARS, "usage_billing_metrics": metrics}


# The changes that keep the vars first: their builds need no new parse of the project.
CHANGES = {
    "customer_timezone": Change(
        BASE_VARS,
        "update pricing.customers set timezone = 'America/New_York'"
        " where customer_id = 'cus_alpha'",
        ("timezone", "cus_alpha"),
    ),
    "alias_repointed": Change(
        BASE_VARS,
        "update pricing.customer_aliases set customer_id = 'cus_beta' where alias = 'alpha-eu'",
        ("alpha-eu", "customer_aliases"),
    ),
    "metric_filter": Change(
        _with_metric("requests", filter={"user": {"in": ["a", "b", "c"]}}),
        "",
        ("requests", "usage_billing_metrics"),
    ),
    "metric_aggregation": Change(
        _with_metric("volume", aggregation="max"), "", ("volume", "usage_billing_metrics")
    ),
    "new_metric_on_a_new_property": Change(
        {
            **BASE_VARS,
            "usage_billing_metrics": [
                *VARS["usage_billing_metrics"],
                {
                    "name": "transfer",
                    "event_type": "request",
                    "aggregation": "sum",
                    "property": "bytes",
                },
            ],
        },
        """
        insert into pricing.prices
            (price_id, plan_id, metric, pricing_model, description, unit_price, effective_from)
        values
            ('price_transfer', 'metered', 'transfer', 'per_unit', 'transfer', 0.001, '2023-01-01')
        """,
        ("transfer", "usage_billing_metrics"),
    ),
    "dedup_policy": Change(
        {**BASE_VARS, "usage_billing_dedup_policy": "first_wins"},
        "",
        ("usage_billing_dedup_policy",),
    ),
    "timestamp_column": Change(
        {**BASE_VARS, "usage_billing_column_event_timestamp": "event_time2"},
        # Nine days earlier: events cross into other days and months, some before the
        # subscriptions start.
        """
        alter table raw.usage_events add column event_time2 varchar;
        update raw.usage_events set event_time2 = strftime(
            try_strptime(event_timestamp, '%Y-%m-%dT%H:%M:%SZ') - interval 9 day,
            '%Y-%m-%dT%H:%M:%SZ'
        );
        """,
        ("usage_billing_column_event_timestamp",),
    ),
}


def _assert_applied_or_refused(
    bench: Bench, change: Change, compared: Sequence[str], full_refresh: Path
) -> None:
    """A normal build on the changed database at the bench gives the tables of `full_refresh`
    (the same database after `dbt build --full-refresh`), or fails loudly: a message naming
    what changed (one of change.names) and `--full-refresh`; then a normal build after that
    full refresh must run and change nothing (the refusal is not repeated forever). A silent
    success with stale rows fails."""
    reference = _tables(full_refresh, compared)
    try:
        run_dbt(BUILD, bench.database, change.vars_)
    except DbtFailedError as error:
        message = str(error)
        assert "--full-refresh" in message and any(name in message for name in change.names), (
            f"the build failed without naming one of {change.names} and --full-refresh: {message}"
        )
        bench.restore(full_refresh)
        run_dbt(BUILD, bench.database, change.vars_)
    problems = _differences(_tables(bench.database, compared), reference)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_changed_input_is_applied_or_refused(
    bench: Bench, base: Base, tmp_path: Path, change: Change
) -> None:
    """Usage is stored, an input changes, and a normal build runs: it must apply the change
    as a full refresh would, or refuse loudly (_assert_applied_or_refused)."""
    bench.restore(base.database)
    if change.sql:
        with duckdb.connect(str(bench.database)) as connection:
            connection.execute(change.sql)
    changed = bench.save(tmp_path / "changed.duckdb")
    run_dbt([*BUILD, "--full-refresh"], bench.database, change.vars_)
    full_refresh = bench.save(tmp_path / "full_refresh.duckdb")
    changed_billing = _tables(full_refresh, ["usage_billing__invoice_lines"])[
        "usage_billing__invoice_lines"
    ]
    assert changed_billing != base.tables["usage_billing__invoice_lines"], (
        "the change bills the same"
    )
    bench.restore(changed)
    _assert_applied_or_refused(bench, change, base.compared, full_refresh)
