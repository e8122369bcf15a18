"""Billing systems the push sends to: one module per target (`base.Target` each), built by name
through `registry`."""
