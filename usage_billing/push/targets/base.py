"""What every target implements: `Target`, which pushes one `Job`. The targets import this
module; it imports none of them (`registry` builds them by name)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from usage_billing.push.documents import Document


@dataclass
class Job:
    """One document to push, with what the ledger knows of earlier attempts."""

    document: Document
    customer_external_id: str
    resumed: bool
    external_id: str | None
    on_external_id: Callable[[str], None]

    def remember(self, external_id: str) -> None:
        """Record the target's id of the document as soon as it exists."""
        if external_id != self.external_id:
            self.external_id = external_id
            self.on_external_id(external_id)


class Target(Protocol):
    """A billing system: pushes one document exactly once, however often it is called."""

    name: str
    needs_customer_mapping: bool

    def push(self, job: Job) -> str | None:
        """Send the document (resuming an earlier attempt); the target's id of it."""
        ...

    def close(self) -> None: ...
