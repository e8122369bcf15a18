"""Project habits the machine checks: public tables and seeds are documented column by column,
and models hold no dialect-only SQL (that lives in macros/cross_db/ behind adapter.dispatch)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support.warehouse_scenario import REPO_DIR, run_dbt
from usage_billing.events.contract import RAW_EVENTS_COLUMNS

PUBLIC_MODEL_DIR = "models/marts/"


@dataclass(frozen=True)
class DbtArtifacts:
    manifest: dict[str, Any]
    catalog: dict[str, Any]


@pytest.fixture(scope="module")
def dbt_artifacts(tmp_path_factory: pytest.TempPathFactory) -> DbtArtifacts:
    """Parse the project, build every model empty on a throw-away DuckDB file (the catalog reads
    the columns the SQL really outputs from the database) and generate the docs."""
    work_dir = tmp_path_factory.mktemp("habits")
    # The example profile, not the developer's profiles.yml: the DuckDB output, file from the env.
    shutil.copy(REPO_DIR / "profiles.example.yml", work_dir / "profiles.yml")
    database = work_dir / "habits.duckdb"
    run_dbt(["parse"], database, profiles_dir=work_dir)
    with duckdb.connect(str(database)) as connection:
        connection.execute('create schema if not exists "raw"')
        connection.execute(f'create table "raw"."usage_events" ({RAW_EVENTS_COLUMNS})')
    run_dbt(
        [
            "build",
            "--empty",
            "--resource-type",
            "seed",
            "--resource-type",
            "model",
            "--resource-type",
            "snapshot",
            "--quiet",
        ],
        database,
        profiles_dir=work_dir,
    )
    run_dbt(["docs", "generate", "--quiet"], database, profiles_dir=work_dir)
    target = work_dir / "target"
    return DbtArtifacts(
        manifest=json.loads((target / "manifest.json").read_text()),
        catalog=json.loads((target / "catalog.json").read_text()),
    )


def _is_public(node: dict[str, Any]) -> bool:
    """Seeds, and the models under models/marts/ (the tables users query)."""
    path = str(node["original_file_path"])
    return node["resource_type"] == "seed" or (
        node["resource_type"] == "model" and path.startswith(PUBLIC_MODEL_DIR)
    )


def documentation_problems(manifest: dict[str, Any], catalog: dict[str, Any]) -> list[str]:
    """One line per public model or seed lacking a description, per column it outputs (as the
    catalog reads it from the database) lacking one, and per documented column it lacks."""
    catalog_nodes = catalog["nodes"]
    public = {
        unique_id: node
        for unique_id, node in manifest["nodes"].items()
        # the package's own, and the demo's seeds in integration_tests/
        if node["package_name"] in {"usage_billing", "usage_billing_integration_tests"}
        and _is_public(node)
    }
    problems = []
    for unique_id, node in sorted(public.items()):
        where = f"{node['original_file_path']} ({node['name']})"
        if not node["description"].strip():
            problems.append(f"{where}: no description")
        if unique_id not in catalog_nodes:
            problems.append(f"{where}: not in catalog.json, so its columns could not be checked")
            continue
        documented = {
            name.lower(): column["description"].strip() for name, column in node["columns"].items()
        }
        actual = [name.lower() for name in catalog_nodes[unique_id]["columns"]]
        problems += [
            f"{where}: column {name} has no description"
            for name in actual
            if not documented.get(name)
        ]
        problems += [
            f"{where}: documented column {name} is not in the output"
            for name in sorted(set(documented) - set(actual))
        ]
    return problems


def test_public_models_and_seeds_are_documented(dbt_artifacts: DbtArtifacts) -> None:
    """Every mart and seed, and every column it really has, carries a YAML description."""
    marts = [
        node
        for node in dbt_artifacts.manifest["nodes"].values()
        if node["resource_type"] == "model" and _is_public(node)
    ]
    assert marts, f"no models found under {PUBLIC_MODEL_DIR}"
    problems = documentation_problems(dbt_artifacts.manifest, dbt_artifacts.catalog)
    assert not problems, "Undocumented public models or seeds:\n" + "\n".join(problems)


def test_documentation_check_lists_each_gap() -> None:
    def node(path: str, description: str, columns: dict[str, str]) -> dict[str, Any]:
        return {
            "resource_type": "seed" if path.startswith("seeds/") else "model",
            "package_name": "usage_billing",
            "original_file_path": path,
            "name": Path(path).stem,
            "description": description,
            "columns": {name: {"description": text} for name, text in columns.items()},
        }

    manifest = {
        "nodes": {
            "model.usage_billing.usage_billing__invoices": node(
                "models/marts/invoices.sql", "", {"invoice_id": "Key.", "old": "Gone."}
            ),
            "model.usage_billing.stg_x": node("models/staging/stg_x.sql", "", {}),
            "seed.usage_billing.plans": node("seeds/demo/plans.csv", "Plans.", {"name": " "}),
        }
    }
    catalog: dict[str, Any] = {
        "nodes": {
            "model.usage_billing.usage_billing__invoices": {
                "columns": {"INVOICE_ID": {}, "total": {}}
            },
            "model.usage_billing.stg_x": {"columns": {"a": {}}},
            "seed.usage_billing.plans": {"columns": {"plan_id": {}, "name": {}}},
        }
    }
    assert documentation_problems(manifest, catalog) == [
        "models/marts/invoices.sql (invoices): no description",
        "models/marts/invoices.sql (invoices): column total has no description",
        "models/marts/invoices.sql (invoices): documented column old is not in the output",
        "seeds/demo/plans.csv (plans): column plan_id has no description",
        "seeds/demo/plans.csv (plans): column name has no description",
    ]


# SQL that only some warehouses understand. Models (and the SQL-writing macros outside
# macros/cross_db/) call dbt's cross-database macros or a usage_billing.* dispatch macro instead.
# Function names match only when not preceded by "." so `dbt.safe_cast(` and friends pass.
_FUNCTION = r"(?<![.\w]){}\s*\("
DIALECT_ONLY: list[tuple[str, re.Pattern[str]]] = [
    (label, re.compile(pattern, re.IGNORECASE))
    for label, pattern in [
        ("'::' cast", r"::"),
        ("JSON operator", r"#>>?|->>?"),
        ("json_* function", _FUNCTION.format(r"json_\w+")),
        ("try_* function", _FUNCTION.format(r"try_\w+")),
        ("BigQuery safe. prefix", r"(?<![.\w])safe\.\w+\s*\("),
        ("list_* function", _FUNCTION.format(r"list_\w+")),
        *(
            (f"{name}()", _FUNCTION.format(name))
            for name in [
                "safe_cast",
                "get_json_object",
                "get_path",
                "parse_json",
                "from_json",
                "to_json",
                "object_construct",
                "struct_pack",
                "regexp_matches",
                "regexp_like",
                "regexp_contains",
                "rlike",
                "iff",
                "nvl",
                "nvl2",
                "ifnull",
                "div0",
                "safe_divide",
                "date_diff",
                "datediff",
                "dateadd",
                "date_add",
                "date_sub",
                "date_trunc",
                "date_part",
                "datepart",
                "last_day",
                "split_part",
                "strftime",
                "strptime",
                "format_date",
                "format_timestamp",
                "to_char",
                "to_varchar",
                "to_timestamp",
                "epoch_ms",
                "from_unixtime",
                "unix_timestamp",
                "timestamp_seconds",
                "convert_timezone",
                "now",
                "getdate",
                "sysdate",
                "listagg",
                "string_agg",
                "group_concat",
                "bool_or",
                "bool_and",
                "logical_or",
                "logical_and",
                "md5",
                "sha256",
                "hash",
                "generate_series",
                "unnest",
                "flatten",
                "explode",
            ]
        ),
        ("qualify clause", r"\bqualify\b"),
        ("ilike", r"\bilike\b"),
        ("at time zone", r"\bat\s+time\s+zone\b"),
        (
            "dialect-only type (use dbt.type_*() or usage_billing.type_decimal())",
            r"\bas\s+(?:hugeint|ubigint|varchar|nvarchar|text|string|int64|float64|bignumeric"
            r"|numeric|decimal|double|timestamp|timestamptz|timestamp_[nlt]tz|timestamp_tz|variant"
            r"|jsonb|json|struct|map|array)\b",
        ),
    ]
]

# Everything whose SQL runs on every engine; macros/cross_db/ is where dialects are allowed.
CHECKED_DIRS = ["models", "tests/dbt", "snapshots", "macros"]
DIALECT_DIR = "macros/cross_db"


def _blank(text: str) -> str:
    return re.sub(r"[^\n]", " ", text)


def _sql_without_comments(text: str) -> str:
    """`text` with Jinja, `--` and `/* */` comments blanked (newlines kept, so line numbers
    hold). String literals are kept: Jinja passes SQL to macros inside them."""
    text = re.sub(r"\{#.*?#\}", lambda match: _blank(match.group(0)), text, flags=re.DOTALL)
    out: list[str] = []
    index = 0
    while index < len(text):
        if text.startswith("--", index):
            end = text.find("\n", index)
            end = len(text) if end == -1 else end
        elif text.startswith("/*", index):
            end = text.find("*/", index + 2)
            end = len(text) if end == -1 else end + 2
        elif text[index] == "'":
            end = index + 1
            while end < len(text) and text[end] != "'":
                end += 1
            out.append(text[index : end + 1])
            index = end + 1
            continue
        else:
            out.append(text[index])
            index += 1
            continue
        out.append(_blank(text[index:end]))
        index = end
    return "".join(out)


def _yaml_without_prose(text: str) -> str:
    """YAML with comment lines and `description:` values blanked: prose may say "qualify"."""
    lines = text.split("\n")
    prose_indent: int | None = None
    for number, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        if prose_indent is not None and (not line.strip() or indent > prose_indent):
            lines[number] = ""
            continue
        prose_indent = None
        key = re.match(r"(\s*(?:-\s+)?)description\s*:", line)
        if key:
            prose_indent = len(key.group(1))  # the key's column: its value is indented deeper
            lines[number] = ""
        elif line.lstrip().startswith("#"):
            lines[number] = ""
    return "\n".join(lines)


def _checked_files() -> Iterator[Path]:
    for directory in CHECKED_DIRS:
        for path in sorted((REPO_DIR / directory).rglob("*")):
            relative = path.relative_to(REPO_DIR).as_posix()
            is_dialect_macro = relative.startswith(DIALECT_DIR + "/")
            if path.suffix in {".sql", ".yml", ".yaml"} and not is_dialect_macro:
                yield path


def dialect_findings(path: Path, name: str) -> list[str]:
    """`name:line: what` for each dialect-only construct in the SQL or YAML file `path`."""
    text = path.read_text()
    code = _sql_without_comments(text) if path.suffix == ".sql" else _yaml_without_prose(text)
    findings = []
    for number, line in enumerate(code.split("\n"), start=1):
        for label, pattern in DIALECT_ONLY:
            match = pattern.search(line)
            if match:
                findings.append(f"{name}:{number}: {label}: {match.group(0)!r}")
    return findings


def test_models_hold_no_dialect_specific_sql() -> None:
    """Dialect-only SQL lives in macros/cross_db/ (one dispatch macro per need), nowhere else."""
    findings = [
        finding
        for path in _checked_files()
        for finding in dialect_findings(path, path.relative_to(REPO_DIR).as_posix())
    ]
    assert not findings, (
        "Dialect-only SQL outside macros/cross_db/ (use dbt.* cross-database macros or add a"
        " usage_billing dispatch macro):\n" + "\n".join(findings)
    )


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select x::int from t", "'::' cast"),
        ("select json_extract_string(p, '$.a') from t", "json_* function"),
        ("select try_cast(x as integer) from t", "try_* function"),
        ("select * from t qualify row_number() over () = 1", "qualify clause"),
        ("select p #>> '{a}' from t", "JSON operator"),
        ("select nvl(a, b) from t", "nvl()"),
        ("select cast(x as hugeint) from t", "dialect-only type"),
        ("select strftime(d, '%Y') from t", "strftime()"),
    ],
)
def test_dialect_check_catches(tmp_path: Path, sql: str, expected: str) -> None:
    model = tmp_path / "model.sql"
    model.write_text(f"-- a comment\n{sql}\n")
    findings = dialect_findings(model, model.name)
    assert len(findings) == 1
    assert ":2: " + expected in findings[0]


@pytest.mark.parametrize(
    "sql",
    [
        "select {{ dbt.safe_cast('x', dbt.type_int()) }}, {{ dbt.datediff('a', 'b', 'day') }}",
        "-- rows qualify when they match; nvl() lives in a macro\nselect 1",
        "{# json_extract_string is dispatched #} select {{ usage_billing.json_extract_text('p') }}",
        "select cast(x as date) as event_date from t",
    ],
)
def test_dialect_check_passes_portable_sql(tmp_path: Path, sql: str) -> None:
    model = tmp_path / "model.sql"
    model.write_text(sql)
    assert dialect_findings(model, model.name) == []


def test_dialect_check_skips_yaml_descriptions(tmp_path: Path) -> None:
    schema = tmp_path / "model.yml"
    schema.write_text(
        "models:\n"
        "  - name: m\n"
        "    description: >\n"
        "      Rows qualify once; ilike and :: are words here.\n"
        "    columns:\n"
        "      - name: c\n"
        "        description: nvl() is prose here\n"
        "        data_tests:\n"
        "          - usage_billing.expression_is_true:\n"
        "              expression: c::int > 0\n"
    )
    findings = dialect_findings(schema, schema.name)
    assert len(findings) == 1
    assert ":10: '::' cast" in findings[0]


# PostgreSQL and Redshift refuse identifiers over 63 characters: a table's name plus the
# suffix dbt gives its backup while replacing it, and an ephemeral model's CTE name.
IDENTIFIER_LIMIT = 63


def test_relation_names_fit_postgres_identifiers(dbt_artifacts: DbtArtifacts) -> None:
    too_long = []
    for node in dbt_artifacts.manifest["nodes"].values():
        if node["package_name"] != "usage_billing" or node["resource_type"] != "model":
            continue
        materialized = node["config"]["materialized"]
        name = f"__dbt__cte__{node['name']}" if materialized == "ephemeral" else node["alias"]
        longest = name if materialized == "ephemeral" else f"{name}__dbt_backup"
        if len(longest) > IDENTIFIER_LIMIT:
            too_long.append(f"{node['name']}: {longest} has {len(longest)} characters")
    assert not too_long, "\n".join(too_long)
