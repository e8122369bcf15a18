"""usage_billing's Python side, one subpackage per job:

    events     the raw events: their table and contract, the ingestion API, its journal and
               loader, the CSV loader and the demo's events
    warehouse  the one `Warehouse` interface and a module per engine behind it
    marts      the one reader of the invoices marts and the invoice model it returns
    push       sending final invoices to billing systems once: documents, ledger, targets
    pages      the invoice and usage pages of `usage-billing serve`

The dbt project computes every figure; this package only moves events in and shows or sends
what the marts hold.
"""
