"""The invoice and usage pages of `usage-billing serve`: routes, charts, templates, static."""
