"""Events in: the ingestion API and the CSV loader."""
