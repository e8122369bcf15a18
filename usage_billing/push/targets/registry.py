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

TargetClass = (
    type[stripe.StripeTarget] | type[sequence.SequenceTarget] | type[webhook.WebhookTarget]
)

FACTORIES: dict[str, TargetClass] = {
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


def needs_customer_mapping(name: str) -> bool:
    """Whether target `name` bills its own customer ids (customer_external_ids) rather than
    ours; known without building the target, so without its secrets."""
    return FACTORIES[name].needs_customer_mapping


def describe(name: str, document: Document) -> str:
    """What pushing `document` to `name` sends, for `--dry-run`; needs no secrets."""
    try:
        return DESCRIBERS[name](document)
    except SyncError as error:
        return f"will fail: {error}"
