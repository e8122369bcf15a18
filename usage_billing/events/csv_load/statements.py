"""The SQL of one load: DuckDB's reader over the file, the checks every row passes, and the
candidate rows as the raw table stores them."""

from __future__ import annotations

from pathlib import Path

from usage_billing.events import contract_sql
from usage_billing.events.csv_load.header import MAX_LINE_BYTES, Layout
from usage_billing.events.table import EventsTable
from usage_billing.warehouse.duckdb import DuckDBWarehouse
from usage_billing.warehouse.sql import quote_identifier, sql_literal

REJECTS_TABLE = "_usage_billing_load_rejects"
REJECTS_SCAN = "_usage_billing_load_reject_scans"

JSON_NUMBER = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?"


def _typed_json(column: str) -> str:
    """A property value from a text cell: JSON number or boolean when it reads as one."""
    value = f"nullif(trim({column}), '')"
    return (
        f"case when {value} is null then null"
        f" when regexp_full_match({value}, {sql_literal(JSON_NUMBER)}) then {value}::json"
        f" when {value} in ('true', 'false') then {value}::json"
        f" else to_json({value}) end"
    )


def _properties_expression(shape: Layout) -> str:
    """SQL for the properties JSON text of a valid row."""
    extras = None
    if shape.extras:
        pairs = ", ".join(
            f"{sql_literal(name)}, {_typed_json(f'c{i}')}" for name, i in shape.extras
        )
        extras = f"json_object({pairs})"
    if "event_properties" not in shape.fields:
        return f"cast({extras} as varchar)" if extras else "cast(null as varchar)"
    if extras is None:
        return "nullif(trim(properties_text), '')"
    return (
        f"case when coalesce(trim(properties_text), '') = '' then cast({extras} as varchar)"
        f" else cast(json_merge_patch({extras}, properties_text) as varchar) end"
    )


def _read_csv(path: Path, shape: Layout) -> str:
    columns = ", ".join(f"{sql_literal(name)}: 'VARCHAR'" for name in shape.columns)
    return (
        f"read_csv({sql_literal(str(path))}, auto_detect = false, columns = {{{columns}}},"
        " header = true, delim = ',', quote = '\"', escape = '\"', strict_mode = true,"
        f" max_line_size = {MAX_LINE_BYTES}, encoding = 'utf-8', store_rejects = true,"
        f" rejects_table = {sql_literal(REJECTS_TABLE)},"
        f" rejects_scan = {sql_literal(REJECTS_SCAN)})"
    )


def _checks(shape: Layout) -> list[tuple[str, str]]:
    """(reason, SQL true for a valid value) in the event contract's order (contract.py), which
    chooses a row's reason. DuckDB runs the later tests only on the rows the earlier ones leave,
    so the cheap ones come first within that order."""
    checks = []
    for field in ("event_id", "customer_alias", "event_type"):
        checks.append((f"missing_{field}", contract_sql.is_present(field)))
        checks.append((f"bad_{field}", contract_sql.has_no_control_character(field)))
    checks += [
        ("missing_timestamp", contract_sql.is_present("event_timestamp")),
        ("bad_timestamp", contract_sql.timestamp_parses("event_timestamp")),
        ("timestamp_out_of_range", contract_sql.timestamp_in_range("event_timestamp")),
    ]
    if "event_properties" in shape.fields:
        # An empty cell is no properties; the loader stores it as null.
        blank = "(properties_text is null or trim(properties_text) = '')"
        properties_valid = contract_sql.properties_are_valid("properties_text")
        checks.append(("bad_properties", f"({blank} or {properties_valid})"))
    return checks


def _checked_sql(path: Path, shape: Layout, numbered: bool) -> str:
    """One pass over the file, values as sent. Not numbered: the valid rows only, for the fast
    pass. Numbered: every parsed row with its rejection reason (null when valid) and
    `record_index`, its position among the parsed rows, which makes the reader keep file
    order; only the audit pass asks for it."""

    def field_value(name: str) -> str:
        return f"c{shape.fields[name]}" if name in shape.fields else "cast(null as varchar)"

    checks = _checks(shape)
    if numbered:
        cases = " ".join(
            f"when not coalesce({valid}, false) then {sql_literal(reason)}"
            for reason, valid in checks
        )
        shown, numbering, condition = f"*, case {cases} end as reason", " with ordinality", ""
    else:
        shown, numbering = "*, cast(null as varchar) as reason", ""
        condition = "where " + " and ".join(valid for _, valid in checks)
    extras = "".join(f", c{index}" for _, index in shape.extras)
    return f"""
        select {shown}
        from (
            select
                {field_value("event_id")} as event_id,
                {field_value("customer_alias")} as customer_alias,
                {field_value("event_type")} as event_type,
                {field_value("event_timestamp")} as event_timestamp,
                {field_value("event_properties")} as properties_text
                {extras}{", ordinality as record_index" if numbered else ""}
            from {_read_csv(path, shape)}{numbering}
        )
        {condition}
    """  # noqa: S608 - identifiers and literals are ours, quoted


def stored_value(expression: str, column_type: str, kind: str) -> str:
    """The value as the raw table's column stores it (timestamps parsed to UTC when typed)."""
    if kind == "timestamp":
        if "with time zone" in column_type:
            return f"try_cast({expression} as timestamptz)"
        if column_type.startswith("timestamp"):
            return f"(try_cast({expression} as timestamptz) at time zone 'UTC')"
    if kind == "json" and column_type == "json":
        return f"cast({expression} as json)"
    return expression


class Statements:
    """The SQL of one load: the candidate rows as the raw table stores them, and the raw table's
    column for each field."""

    def __init__(
        self,
        warehouse: DuckDBWarehouse,
        events: EventsTable,
        columns: dict[str, str],
        shape: Layout,
        path: Path,
    ) -> None:
        self.relation = warehouse.quote(events.schema, events.table)
        self.shape, self.path, self.events = shape, path, events
        self.raw_column = events.field_columns
        kinds = {"event_timestamp": "timestamp", "event_properties": "json"}
        values = {
            "event_id": "event_id",
            "customer_alias": "customer_alias",
            "event_type": "event_type",
            "event_timestamp": "event_timestamp",
            "event_properties": _properties_expression(shape),
        }
        self.fields = list(values)
        self.stored = {
            name: stored_value(
                values[name], columns.get(self.raw_column[name], "varchar"), kinds.get(name, "")
            )
            for name in values
        }
        self.insert_columns = [quote_identifier(self.raw_column[name]) for name in values]
        if events.loaded_at:
            self.insert_columns.append(quote_identifier(events.loaded_at))

    def candidates(self, numbered: bool) -> str:
        """Every parsed row as stored, with `reason` (null when valid) and the timestamp as sent."""
        stored = ", ".join(f"{self.stored[name]} as {name}" for name in self.fields)
        numbered_sql = _checked_sql(self.path, self.shape, numbered)
        extra = ", record_index" if numbered else ""
        sent = "event_timestamp as timestamp_text"
        return f"select {stored}, reason, {sent}{extra} from ({numbered_sql})"  # noqa: S608

    def not_loaded_before(self, alias: str) -> str:
        """SQL true when no row of the raw table has `alias`'s event_id and payload."""
        payload = " and ".join(
            f"existing.{quote_identifier(self.raw_column[name])} is not distinct from"
            f" {alias}.{name}"
            for name in self.fields
        )
        return f"""not exists (
            select 1 from {self.relation} as existing
            where existing.{quote_identifier(self.events.event_id)} = {alias}.event_id
                and {payload}
        )"""  # noqa: S608 - identifiers are ours

    def insert(self, source: str, condition: str) -> str:
        stamp = ", ?" if self.events.loaded_at else ""
        return f"""
            insert into {self.relation} ({", ".join(self.insert_columns)})
            select {", ".join(self.fields)}{stamp} from ({source}) as candidate
            where {condition}
        """  # noqa: S608 - identifiers are ours, values bound
