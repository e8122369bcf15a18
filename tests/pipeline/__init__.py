"""The dbt pipeline: incremental builds, crash safety, usage events, metrics, unbilled usage
and the demo."""
