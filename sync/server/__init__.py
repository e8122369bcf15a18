"""`usage-billing serve`: one ASGI app (`create_app` in `sync.server.app`): the ingestion API and
the invoice and usage pages."""
