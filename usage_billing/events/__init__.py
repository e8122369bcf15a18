"""Usage events in: the raw events table, the ingestion API with its journal and loader, the
CSV loader and the demo's events."""
