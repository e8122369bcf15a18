"""`usage-billing load`: append a CSV file of usage events to the raw events table, fast.

DuckDB's own CSV reader parses the file and SQL checks every row in one parallel pass (no
Python per row, no staging copy) that appends the good rows to the raw table, stamped with one
`loaded_at`. When the counts show that something was left out (the reader rejected a line, an
event_id repeats among the new rows, or the file has more lines than rows went in), a second,
numbered pass finds the bad rows and the repeats; every bad row is written to a reject file
with its line number and reason. The whole load is one transaction, rolled back when the file
was replaced, written to or deleted since its first read (`file_version`).

Columns (header names, case and `_` ignored): `event_id` (or `customerEventId`),
`customer_alias` (`customerAlias`), `event_type`, `event_timestamp`, and properties either as a
JSON object column `event_properties` (or `properties`) or as any other columns, folded into
the properties object (numbers and booleans typed, the rest strings; the JSON column wins on a
clash). `loaded_at` is stamped by the loader and may not be a column of the file.

Loading is idempotent: a row whose event_id and payload (alias, type, timestamp, properties)
already sit in the raw table is skipped, so loading the same file twice inserts nothing the
second time, and a corrected event (same id, new payload) is appended and wins in dbt's staging
(last loaded wins). Within one file, a repeat of a row is loaded once and a changed repeat
replaces the earlier row, which is rejected as `superseded_in_file`: it is never inserted, not
even when the file is loaded again, so a re-load cannot make it the last loaded.

PostgreSQL and Snowflake targets: `remote.load_csv_remote` (this load, then batches to the target).
"""

from usage_billing.events.csv_load.load import LoadResult, load_csv

__all__ = ["LoadResult", "load_csv"]
