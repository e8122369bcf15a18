"""What every target implements, and the factory that builds one from the settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx

from sync.documents import Document
from sync.errors import ConfigError, SyncError
from sync.settings import Settings


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


def make_target(
    name: str,
    settings: Settings,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Target:
    """The target called `name`, its secrets checked now (ConfigError names a missing one)."""
    if name == "stripe":
        from sync.targets.stripe import StripeTarget

        return StripeTarget(settings, transport, sleep)
    if name == "sequence":
        from sync.targets.sequence import SequenceTarget

        return SequenceTarget(settings, transport, sleep)
    if name == "webhook":
        from sync.targets.webhook import WebhookTarget

        return WebhookTarget(settings, transport, sleep)
    raise ConfigError(f"unknown target {name!r}: use stripe, sequence or webhook")


def describe(name: str, document: Document) -> str:
    """What pushing `document` to `name` sends, for `--dry-run`; needs no secrets."""
    try:
        if name == "stripe":
            from sync.targets import stripe

            return stripe.describe(document)
        if name == "sequence":
            from sync.targets import sequence

            return sequence.describe(document)
        from sync.targets import webhook

        return webhook.describe(document)
    except SyncError as error:
        return f"will fail: {error}"
