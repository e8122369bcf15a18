"""usage_billing's Python side: demo data, warehouse access, invoice printing and pages.

The dbt project computes every figure; this package only moves events in and shows or sends
what the marts hold.
"""

from __future__ import annotations

from sync.warehouse import WarehouseTarget, connect, load_target

__all__ = ["WarehouseTarget", "connect", "load_target"]
