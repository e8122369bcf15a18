"""The marts the package reads, by dbt model name, and where each one lives in the warehouse.

The model names are written here only: renaming a mart in the dbt project means changing its
name below and nothing else. A mart's relation comes from the manifest `dbt build` wrote (the
node's database, schema and alias), so custom schemas and aliases are followed; before any
manifest exists, the package's default placement is assumed: dbt's custom schema
`<target schema>_<usage_billing_schema>` and the model's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from usage_billing.dbt_project import DbtProject
from usage_billing.warehouse.profile import WarehouseTarget

INVOICES = "usage_billing__invoices"
INVOICE_LINES = "usage_billing__invoice_lines"
BILLABLE_USAGE = "usage_billing__billable_usage"
BILLING_PERIODS = "usage_billing__billing_periods"
METRIC_USAGE_DAILY = "usage_billing__metric_usage_daily"
LIVE_INVOICE_TOTALS = "usage_billing__live_invoice_totals"
INVOICE_REVISIONS = "usage_billing__invoice_revisions"
ISSUERS = "usage_billing__issuers"
ENTITLEMENTS = "usage_billing__entitlements"
CUSTOMER_ALIASES = "usage_billing__customer_aliases"
THRESHOLD_CROSSINGS = "usage_billing__threshold_crossings"

# The dbt package that defines the marts, whatever the user's project is called.
PACKAGE = "usage_billing"

MART_MODELS = (
    INVOICES,
    INVOICE_LINES,
    BILLABLE_USAGE,
    BILLING_PERIODS,
    METRIC_USAGE_DAILY,
    LIVE_INVOICE_TOTALS,
    INVOICE_REVISIONS,
    ISSUERS,
    ENTITLEMENTS,
    CUSTOMER_ALIASES,
    THRESHOLD_CROSSINGS,
)


class MartsMissingError(Exception):
    """A mart is not where it should be: the dbt project has not been built (or not here)."""


@dataclass(frozen=True)
class Relation:
    """Where one mart lives: schema and table, and the database when it must be named."""

    schema: str
    table: str
    database: str | None = None

    @property
    def parts(self) -> tuple[str, ...]:
        """The dotted name's parts, for `Warehouse.quote`."""
        if self.database is None:
            return (self.schema, self.table)
        return (self.database, self.schema, self.table)


@dataclass(frozen=True)
class MartRelations:
    """Each mart's relation. `source` says where they were looked for and `missing_manifest`
    where no manifest was found, for the message when a mart is absent."""

    source: str
    relations: dict[str, Relation] = field(default_factory=dict)
    missing_manifest: Path | None = None

    def __getitem__(self, model: str) -> Relation:
        return self.relations[model]

    def missing(self, reason: str) -> MartsMissingError:
        """The error for a mart the warehouse does not have (`reason`: the warehouse's words)."""
        if self.missing_manifest is not None:
            reason += f"; no dbt manifest at {self.missing_manifest}"
        return MartsMissingError(
            f"the marts are not built in {self.source}: run `dbt build` first ({reason})"
        )

    @classmethod
    def in_schema(cls, schema: str, missing_manifest: Path | None = None) -> MartRelations:
        """Every mart in `schema` under its model name (the project's default placement)."""
        relations = {model: Relation(schema, model) for model in MART_MODELS}
        return cls(f"schema {schema}", relations, missing_manifest)

    @classmethod
    def from_manifest(
        cls, manifest: dict[str, Any], engine: str, fallback_schema: str
    ) -> MartRelations:
        """The marts as the manifest's model nodes place them. A model the manifest lacks (a
        mart disabled on this engine) keeps the default placement in `fallback_schema`."""
        relations = {}
        nodes = manifest.get("nodes", {})
        for model in MART_MODELS:
            node = nodes.get(f"model.{PACKAGE}.{model}")
            if node is None:
                relations[model] = Relation(fallback_schema, model)
                continue
            # A DuckDB catalog is named after the file, which the profile may point elsewhere
            # since the build (USAGE_BILLING_DUCKDB_PATH): the open file's catalog is meant.
            database = None if engine == "duckdb" else node.get("database") or None
            relations[model] = Relation(node["schema"], node.get("alias") or node["name"], database)
        return cls("the schemas of the dbt manifest", relations)


def mart_relations(project: DbtProject, target: WarehouseTarget) -> MartRelations:
    """Where the marts of `project`, built on `target`, live (see the module doc)."""
    # dbt's default generate_schema_name: the target's schema, then the package's custom one.
    custom = project.variables.get("usage_billing_schema") or PACKAGE
    default_schema = f"{target.schema}_{custom}"
    manifest = project.manifest()
    if manifest is None:
        return MartRelations.in_schema(default_schema, project.manifest_path)
    return MartRelations.from_manifest(manifest, target.type, default_schema)
