"""`make bench-small`: the pipeline benchmark still runs at 100,000 events, and the pipeline's
monthly usage equals the reference query's (the benchmark exits non-zero when it does not).
Its DuckDB memory limit (150 MB) makes the build spill to the temp directory, which once failed
every later model ("Cannot switch temporary directory"). No timing is asserted: speed is
measured by hand (docs/performance.md)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.warehouse_scenario import REPO_DIR


def test_bench_small_runs_and_agrees_with_reference(tmp_path: Path) -> None:
    results = tmp_path / "results.md"
    completed = subprocess.run(
        ["make", "--no-print-directory", "bench-small", f"BENCH_SMALL_RESULTS={results}"],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    rows = [line for line in results.read_text().splitlines() if line.startswith("| 100,000 |")]
    assert len(rows) == 1, results.read_text()
    cells = [cell.strip() for cell in rows[0].strip("|").split("|")]
    full_seconds, events_per_second, reference_seconds = cells[1], cells[2], cells[3]
    assert float(full_seconds) > 0 and float(reference_seconds) > 0
    assert int(events_per_second.replace(",", "")) > 0
    assert rows[0] in completed.stdout
