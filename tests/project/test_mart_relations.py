"""Where the CLI and the pages look for the marts and which profile they open: the dbt
project's manifest and `profile:` key, with the documented defaults before any build."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from usage_billing.dbt_project import load_project
from usage_billing.marts.reader import MartsReader
from usage_billing.marts.relations import (
    INVOICE_LINES,
    INVOICES,
    MART_MODELS,
    MartsMissingError,
    Relation,
    mart_relations,
)
from usage_billing.warehouse.duckdb import DuckDBWarehouse
from usage_billing.warehouse.profile import ProfileError, WarehouseTarget, load_target


def _target(kind: str = "duckdb") -> WarehouseTarget:
    return WarehouseTarget(name="t", type=kind, schema="billing", path=None, settings={})


def _write_manifest(project: Path, nodes: dict[str, dict[str, str]]) -> None:
    (project / "target").mkdir(parents=True)
    (project / "target" / "manifest.json").write_text(json.dumps({"nodes": nodes}))


def test_without_a_manifest_the_marts_are_in_the_package_schema(tmp_path: Path) -> None:
    relations = mart_relations(load_project(tmp_path), _target())
    assert all(
        relations[model] == Relation("billing_usage_billing", model) for model in MART_MODELS
    )
    assert relations.missing_manifest == tmp_path / "target" / "manifest.json"
    # The user's project may rename the package's custom schema.
    (tmp_path / "dbt_project.yml").write_text("name: shop\nvars:\n  usage_billing_schema: bill\n")
    assert mart_relations(load_project(tmp_path), _target())[INVOICES].schema == "billing_bill"


def test_the_manifest_places_each_mart_by_schema_and_alias(tmp_path: Path) -> None:
    (tmp_path / "dbt_project.yml").write_text("name: shop\nprofile: shop_profile\n")
    node = {"database": "analytics", "schema": "finance", "name": INVOICES, "alias": "inv"}
    # The marts are the package's nodes, whatever the user's project is called.
    _write_manifest(
        tmp_path,
        {f"model.usage_billing.{INVOICES}": node, f"model.shop.{INVOICE_LINES}": node},
    )
    project = load_project(tmp_path)
    assert project.profile == "shop_profile"
    on_duckdb = mart_relations(project, _target())
    # DuckDB's catalog is the open file's, whatever the manifest's build called it.
    assert on_duckdb[INVOICES] == Relation("finance", "inv")
    assert on_duckdb[INVOICE_LINES] == Relation("billing_usage_billing", INVOICE_LINES)
    on_snowflake = mart_relations(project, _target("snowflake"))
    assert on_snowflake[INVOICES].parts == ("analytics", "finance", "inv")


def test_an_unbuilt_mart_says_to_run_dbt_build(tmp_path: Path) -> None:
    relations = mart_relations(load_project(tmp_path), _target())
    with duckdb.connect() as connection:
        reader = MartsReader(DuckDBWarehouse(connection), relations)
        with pytest.raises(MartsMissingError, match="run `dbt build` first") as raised:
            reader.invoices()
    assert "no dbt manifest at" in str(raised.value)


def test_the_profile_is_the_one_named(tmp_path: Path) -> None:
    (tmp_path / "profiles.yml").write_text(
        "shop_profile:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: x.duckdb}\n"
    )
    assert load_target(tmp_path, profile="shop_profile").path == "x.duckdb"
    with pytest.raises(ProfileError, match="no profile named usage_billing"):
        load_target(tmp_path)
