"""The pricing property check on PostgreSQL and Spark: the runner draws a tenth of the DuckDB
property test's random cases, of every kind, adds its regressions and builds them in one
`dbt build` (scenarios.py, "properties"); every invoice, line and credit balance must equal the
oracle's for the cases it drew (written beside its marts) to the cent
(tests/support/pricing_properties.py, shared with the DuckDB test). The seed is this process's,
handed to the runners (runs.environment); a failure prints it."""

from __future__ import annotations

import pickle

import pytest

from tests.engines.runs import ORACLE_SCENARIOS, EngineRun
from tests.engines.scenarios import PROPERTY_SHARE
from tests.support.pricing_cases import Case, size
from tests.support.pricing_properties import (
    DRAWN,
    REGRESSION_PREFIX,
    SEED,
    failure_report,
    problems_by_case,
    property_cases,
)
from tests.support.pricing_regressions import REGRESSIONS

pytestmark = pytest.mark.engines

SCENARIO = "properties"
ENGINES = [engine for engine, scenarios in ORACLE_SCENARIOS.items() if SCENARIO in scenarios]
MINIMUM_DRAWN = 200


def _drawn(run: EngineRun) -> list[Case]:
    """The cases the runner drew and built, from the pickle it wrote in the suite's own
    temporary folder."""
    path = run.output_dir / f"{SCENARIO}.cases.pickle"
    cases: list[Case] = pickle.loads(path.read_bytes())  # noqa: S301 - written by our runner
    return cases


def test_at_least_200_cases_of_each_kind_in_proportion() -> None:
    assert set(ENGINES) == {"postgres", "spark"}
    cases = property_cases(SEED, PROPERTY_SHARE)
    counts = {prefix: sum(case.name.startswith(prefix) for case in cases) for prefix in DRAWN}
    assert sum(counts.values()) >= MINIMUM_DRAWN
    duckdb_total = sum(count for _, count in DRAWN.values())
    for prefix, (_, duckdb_count) in DRAWN.items():
        assert counts[prefix] / sum(counts.values()) == pytest.approx(
            duckdb_count / duckdb_total, abs=0.01
        ), counts
    regressions = [case for case in cases if case.name.startswith(REGRESSION_PREFIX)]
    assert len(regressions) == len(REGRESSIONS) > 0


@pytest.mark.parametrize("engine", ENGINES)
def test_invoices_equal_the_oracle_to_the_cent(
    engine_runs: dict[str, EngineRun], engine: str
) -> None:
    result = engine_runs[engine].scenario(SCENARIO)
    problems_text = "\n".join(result["problems"])
    assert result["success"], f"dbt build of {SCENARIO} on {engine} failed:\n{problems_text}"
    cases = _drawn(engine_runs[engine])
    assert [case.name for case in cases] == [
        case.name for case in property_cases(SEED, PROPERTY_SHARE)
    ]
    marts = result["marts"]
    assert len(marts["usage_billing__invoices"]) > len(cases), "too few invoices to be a check"
    problems = problems_by_case(cases, marts)
    if problems:
        failing = sorted((case for case in cases if case.name in problems), key=size)
        pytest.fail(f"{engine}: " + failure_report(cases, problems, SEED, failing[:3]))
