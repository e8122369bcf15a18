"""`usage-billing serve`: the HTTP server (ingestion API; `create_app` in `sync.server.app`)."""
