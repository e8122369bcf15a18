"""Mistakes in the metrics YAML fail when dbt parses the project, naming the metric and the
field, instead of producing wrong invoices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from warehouse_scenario import DbtFailed, run_dbt


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        (
            {"name": "gb", "aggregation": "median", "property": "bytes"},
            "metric gb: 'aggregation' must be one of count, sum, got 'median'",
        ),
        ({"name": "volume", "aggregation": "sum"}, "metric volume: aggregation 'sum' needs 'property'"),
        (
            {"name": "calls", "aggregation": "count", "filtre": {"method": "card"}},
            "metric calls: unknown field 'filtre'",
        ),
        ({"name": "Calls", "aggregation": "count"}, "metric Calls: 'name' must be lowercase"),
    ],
)
def test_bad_metric_fails_at_parse_naming_the_field(
    tmp_path: Path, metric: dict[str, Any], message: str
) -> None:
    with pytest.raises(DbtFailed) as failure:
        run_dbt(
            ["parse", "--no-partial-parse"],
            tmp_path / "warehouse.duckdb",
            {"usage_billing_metrics": [metric]},
        )
    assert message in str(failure.value)
