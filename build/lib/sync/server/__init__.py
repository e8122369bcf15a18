"""`usage-billing serve`: one ASGI app on 127.0.0.1 with the invoice and usage pages."""
