"""The invoices marts, read: their names and relations, the invoice model, the one reader and
the text of every figure."""
