"""Compile the project for a cloud warehouse with no network at all:

    python -m tests.engines.compile_offline ADAPTER OUTPUT_DIR [VARS_SET ...]

Each vars set (VARS_SETS: the project's own vars and each portability scenario's, each
distinct set once; all of them when none is named) is compiled into OUTPUT_DIR/<vars set>/.
dbt compiles in this process with two things swapped out, and nothing in the project changed:
sockets refuse every connection (so a compile that needs the warehouse fails loudly, naming
what it tried), and the adapter's get_relation answers from here instead of asking the
warehouse. get_relation is what is_incremental() asks (through load_relation), so the project
is compiled twice per vars set: as a first build (no table exists; <vars set>/first_build) and
as an incremental run over the incremental models' existing tables (<vars set>/incremental_run;
the second compile reuses the first one's parse). BigQuery's credentials need a key file: a
throw-away service-account key is generated.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from tests.engines.scenarios import SCENARIOS
from tests.support.warehouse_scenario import PROJECT_DIR, REPO_DIR, column_names
from usage_billing.pricing_tables import PRICING_TABLES

ADAPTER_CLASSES = {
    "bigquery": ("dbt.adapters.bigquery.impl", "BigQueryAdapter"),
    "snowflake": ("dbt.adapters.snowflake.impl", "SnowflakeAdapter"),
    "redshift": ("dbt.adapters.redshift.impl", "RedshiftAdapter"),
    "databricks": ("dbt.adapters.databricks.impl", "DatabricksAdapter"),
}
DEFAULT_VARS = "default"
# What vars can change, compiled for every vars set: the models, the snapshot and the singular
# tests. A generic test (not_null, unique, relationships...) names a relation and a column,
# whatever the vars, so it is compiled with the default set only; they are most of the nodes.
VARS_DEPENDENT_NODES = ["resource_type:model", "resource_type:snapshot", "test_type:singular"]


def vars_sets() -> dict[str, dict[str, Any]]:
    """The vars each portability scenario builds with, each distinct set once, named by the first
    scenario that has it; "default" (no vars: integration_tests/dbt_project.yml's) first. The
    scenarios of the demo share it, so seven sets cover the ten scenarios."""
    sets: dict[str, dict[str, Any]] = {DEFAULT_VARS: {}}
    for name, scenario in SCENARIOS.items():
        scenario_vars = scenario().vars
        if scenario_vars not in sets.values():
            sets[name] = scenario_vars
    return sets


class OfflineError(RuntimeError):
    """Something tried to reach the network during an offline compile."""


def refuse_network() -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OfflineError(f"offline compile tried to connect: {args[1:] or kwargs}")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse
    socket.getaddrinfo = refuse


def write_service_account_key(path: Path) -> None:
    """A syntactically valid service-account key for a project that does not exist."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "usage-billing-offline",
                "private_key_id": "0" * 40,
                "private_key": pem,
                "client_email": "offline@usage-billing-offline.iam.gserviceaccount.com",
                "client_id": "0",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )


# dbt's, and the package's own on BigQuery (macros/incremental/bigquery_transaction.sql).
INCREMENTAL_MATERIALIZATIONS = frozenset({"incremental", "usage_billing_transaction"})
BUILD_STATE_TABLES = frozenset({"usage_billing__build_state", "usage_billing__billed_aliases"})


def build_state_rows() -> Any:
    """What the build state (macros/incremental/build_state.sql) holds before an ordinary
    incremental run: every model current, validated one run ahead of the models after
    int_usage_events_matched_to_metrics, so each compiles its delta branch."""
    import datetime as dt

    import agate

    first, second = dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2)
    rows = [
        ("usage_billing__int_usage_events_validated", True, second, first, second, first),
        ("usage_billing__int_usage_events_matched_to_metrics", True, second, None, second, first),
        ("usage_billing__metric_usage_daily", True, first, None, first, first),
        ("usage_billing__int_usage_by_billing_period", True, first, None, first, first),
        ("usage_billing__unbilled_usage", True, first, None, first, first),
    ]
    names = [
        "model_name",
        "fingerprint_matches",
        "consumed_through",
        "previous_through",
        "built_run",
        "rebuilt_run",
    ]
    types = [agate.Text(), agate.Boolean(), *[agate.DateTime()] * 4]
    return agate.Table(rows, names, types)


def closed_invoice_line_columns() -> list[str]:
    """The columns of closed_invoice_lines as macros/pricing/closed_periods.sql declares them
    (its ('name', type) pairs), for the incremental run's reading of the frozen lines."""
    text = (REPO_DIR / "macros" / "pricing" / "closed_periods.sql").read_text()
    return re.findall(r"(?<![A-Za-z_])\('([a-z_]+)', ", text)


class OfflineRelations:
    """get_relation without a query: a relation exists when it is one of `existing`, the tables
    of the incremental models and the build state on an incremental run (no table on a first
    build). Everything else (the staged credit grants a model counts at run time, say) is
    absent, as on a first build. Reading the build state answers build_state_rows(); the
    billed aliases are none; validated finds raw rows loaded before its window. A pricing
    table's columns are those of usage_billing/pricing_tables.py, every optional column among
    them, so the SQL reading those columns is the SQL compiled; closed_invoice_lines has every
    column its macros declare (a table frozen by this release)."""

    existing: frozenset[str] = frozenset()

    @classmethod
    def install(cls, adapter: str) -> None:
        import importlib

        import agate
        from dbt.adapters.contracts.connection import AdapterResponse

        module_name, class_name = ADAPTER_CLASSES[adapter]
        adapter_class = getattr(importlib.import_module(module_name), class_name)

        def get_relation(self: Any, database: str, schema: str, identifier: str) -> Any:
            if identifier.lower() not in cls.existing:
                return None
            return self.Relation.create(
                database=database, schema=schema, identifier=identifier, type="table"
            )

        def get_columns_in_relation(self: Any, relation: Any) -> list[Any]:
            identifier = relation.identifier.lower()
            if identifier == "usage_billing__closed_invoice_lines":
                names = closed_invoice_line_columns()
            else:
                ddl = PRICING_TABLES.get(identifier)
                names = column_names(ddl) if ddl else []
            return [self.Column.create(name, "string") for name in names]

        original_execute = adapter_class.execute

        def execute(self: Any, sql: str, *args: Any, **kwargs: Any) -> Any:
            if "usage_billing__build_state" in sql and "consumed_through" in sql:
                return AdapterResponse("OK"), build_state_rows()
            if "usage_billing__billed_aliases" in sql:
                return AdapterResponse("OK"), agate.Table([], ["customer_id"], [agate.Text()])
            if (
                "usage_billing__invoice_numbers" in sql
                and "billing_periods.invoice_id is null" in sql
            ):
                # No numbered invoice has disappeared (check_numbered_invoices_exist).
                names = ["invoice_id", "invoice_number"]
                return AdapterResponse("OK"), agate.Table([], names, [agate.Text(), agate.Text()])
            if "unread_rows" in sql:
                # Raw rows loaded before validated's window: some, so the sweep's SQL compiles.
                return AdapterResponse("OK"), agate.Table([(1,)], ["unread_rows"], [agate.Number()])
            return original_execute(self, sql, *args, **kwargs)

        adapter_class.get_relation = get_relation
        adapter_class.get_columns_in_relation = get_columns_in_relation
        adapter_class.execute = execute


def compile_vars_set(
    adapter: str, output_dir: Path, build_vars: dict[str, Any], selection: list[str]
) -> bool:
    """Compiles as a first build and as an incremental run, into output_dir/first_build and
    output_dir/incremental_run (dbt's own target folder is output_dir/target)."""
    from dbt.cli.main import dbtRunner

    target = output_dir / "target"
    OfflineRelations.existing = frozenset()
    for folder in ["first_build", "incremental_run"]:
        if folder == "incremental_run":
            manifest = json.loads((target / "manifest.json").read_text())
            OfflineRelations.existing = BUILD_STATE_TABLES | frozenset(
                node["alias"].lower()
                for node in manifest["nodes"].values()
                if node["config"].get("materialized") in INCREMENTAL_MATERIALIZATIONS
            )
        shutil.rmtree(target / "compiled", ignore_errors=True)
        result = dbtRunner().invoke(
            [
                "compile",
                "--no-populate-cache",
                "--project-dir",
                str(PROJECT_DIR),
                "--profiles-dir",
                str(output_dir.parent),
                "--target-path",
                str(target),
                "--log-path",
                str(output_dir / "logs"),
                "--vars",
                json.dumps(build_vars, default=str),
                *selection,
            ]
        )
        if not result.success:
            print(
                f"dbt compile ({output_dir.name} vars, {folder}) failed: {result.exception}",
                file=sys.stderr,
            )
            return False
        shutil.copytree(target / "compiled" / "usage_billing", output_dir / folder)
    return True


def main(adapter: str, output_dir: Path, names: list[str]) -> int:
    output_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_DIR / "profiles.example.yml", output_dir / "profiles.yml")
    key_file = output_dir / "service-account.json"
    write_service_account_key(key_file)
    os.environ.update(
        {
            "USAGE_BILLING_TARGET": adapter,
            "DBT_ENV_SECRET_BIGQUERY_KEYFILE": str(key_file),
            "DBT_ENV_SECRET_SNOWFLAKE_PASSWORD": "offline",
            "DBT_ENV_SECRET_REDSHIFT_PASSWORD": "offline",
            "DBT_ENV_SECRET_DATABRICKS_TOKEN": "offline",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    refuse_network()
    OfflineRelations.install(adapter)
    sets = vars_sets()
    failed = [
        name
        for name in names or list(sets)
        if not compile_vars_set(
            adapter,
            output_dir / name,
            sets[name],
            []
            if name == DEFAULT_VARS
            else ["--indirect-selection", "empty", "--select", *VARS_DEPENDENT_NODES],
        )
    ]
    if failed:
        print(f"dbt compile failed for {adapter} with the vars of: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3:]))
