"""Mistakes in the metrics YAML fail when dbt parses the project, naming the metric and the
field, instead of producing wrong invoices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.warehouse_scenario import parse_error

CASES: list[tuple[list[dict[str, Any]], str]] = [
    (
        [{"name": "gb", "aggregation": "median", "property": "bytes"}],
        "metric gb: 'aggregation' must be one of count, sum, count_distinct, min, max, avg,"
        " latest, time_weighted, custom, got 'median'",
    ),
    (
        [{"name": "volume", "aggregation": "sum"}],
        "metric volume: 'property' or 'value' is needed by aggregation 'sum'",
    ),
    (
        [{"name": "calls", "aggregation": "count", "filtre": {"method": "card"}}],
        "metric calls: 'filtre' is not a metric field",
    ),
    ([{"name": "Calls", "aggregation": "count"}], "metric Calls: 'name' must be lowercase"),
    (
        [{"name": "calls", "aggregation": "count"}, {"name": "calls", "aggregation": "count"}],
        "metric calls: 'name' is declared twice",
    ),
    (
        [{"name": "calls", "aggregation": "count", "filter": {"card..brand": "visa"}}],
        "metric calls: 'filter' has a malformed path 'card..brand'",
    ),
    (
        # A trailing line break once passed the check, and the metric read a property no
        # event has: it totalled 0, silently.
        [{"name": "volume", "aggregation": "sum", "property": "amount\n"}],
        # (shown escaped: dbt indents the lines of an error message)
        "metric volume: 'property' has a malformed path 'amount\\n'",
    ),
    ([{"name": "calls\n", "aggregation": "count"}], "'name' must be lowercase"),
    (
        [{"name": "calls", "aggregation": "count", "filter": {"amount": {"above": 5}}}],
        "metric calls: 'filter' on 'amount' has unknown operator 'above'",
    ),
    (
        [{"name": "calls", "aggregation": "count", "filter": {"amount": {"gt": "five"}}}],
        "metric calls: 'filter' on 'amount': gt needs a number",
    ),
    (
        [{"name": "orders", "aggregation": "count", "from": {"ref": "orders"}}],
        "metric orders: 'timestamp_column' is needed by a metric read 'from' a relation",
    ),
    (
        [
            {
                "name": "orders",
                "aggregation": "count",
                "from": {"ref": ["orders"]},
                "timestamp_column": "ordered_at",
            }
        ],
        "metric orders: 'from' ref must be a list [package_name, model_name] or a model name",
    ),
    (
        [{"name": "gb", "aggregation": "sum", "property": "bytes", "round": "nearest"}],
        "metric gb: 'round' must be up, down or half_up, got 'nearest'",
    ),
    (
        [{"name": "p95", "aggregation": "custom", "property": "ms"}],
        "metric p95: 'expression' is needed by aggregation 'custom'",
    ),
    (
        [{"name": "calls", "aggregation": "count", "display_name": ["API", "calls"]}],
        "metric calls: 'display_name' must be non-empty text",
    ),
    (
        [{"name": "calls", "aggregation": "count", "unit": 1000}],
        "metric calls: 'unit' must be non-empty text",
    ),
    (
        [{"name": "calls", "aggregation": "count", "display_name": "  "}],
        "metric calls: 'display_name' must be non-empty text",
    ),
]


@pytest.mark.parametrize(("metrics", "message"), CASES, ids=[case[1][:40] for case in CASES])
def test_bad_metric_fails_at_parse_naming_the_field(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    metrics: list[dict[str, Any]],
    message: str,
) -> None:
    monkeypatch.setenv("USAGE_BILLING_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    assert message in parse_error(tmp_path, {"usage_billing_metrics": metrics})
