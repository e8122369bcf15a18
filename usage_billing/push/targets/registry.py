"""The targets by name: build one from the settings, or describe a document for `--dry-run`."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from usage_billing.errors import ConfigError, SyncError
from usage_billing.push.documents import Document
from usage_billing.push.targets import sequence, stripe, webhook
from usage_billing.push.targets.base import Target
from usage_billing.settings import Settings

TargetFactory = Callable[[Settings, httpx.BaseTransport | None, Callable[[float], None]], Target]

FACTORIES: dict[str, TargetFactory] = {
    "stripe": stripe.StripeTarget,
    "sequence": sequence.SequenceTarget,
    "webhook": webhook.WebhookTarget,
}
DESCRIBERS: dict[str, Callable[[Document], str]] = {
    "stripe": stripe.describe,
    "sequence": sequence.describe,
    "webhook": webhook.describe,
}
TARGETS = tuple(FACTORIES)


def make_target(
    name: str,
    settings: Settings,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Target:
    """The target called `name`, its secrets checked now (ConfigError names a missing one)."""
    factory = FACTORIES.get(name)
    if factory is None:
        raise ConfigError(f"unknown target {name!r}: use stripe, sequence or webhook")
    return factory(settings, transport, sleep)


def describe(name: str, document: Document) -> str:
    """What pushing `document` to `name` sends, for `--dry-run`; needs no secrets."""
    try:
        return DESCRIBERS[name](document)
    except SyncError as error:
        return f"will fail: {error}"
