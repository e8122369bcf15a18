"""Billing systems the sync pushes to: one module per target, one `Target` each."""

from __future__ import annotations

from sync.targets.base import Job, Target, make_target

TARGETS = ("stripe", "sequence", "webhook")

__all__ = ["TARGETS", "Job", "Target", "make_target"]
