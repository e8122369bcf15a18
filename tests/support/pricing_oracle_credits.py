"""The reference engine's prepaid credit (docs/pricing.md, "Prepaid credits"), written from the
rules there, apart from the SQL: what bought credit bills, the draw-down invoice by invoice with
promotional grants first and each grant's rollover, and every grant's balance as of the clock.
Runs after discounts (pricing_oracle) and before tax (pricing_oracle_tax)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tests.support.pricing_oracle import ZERO, Grant, Invoice, Line

D = Decimal


def grant_order(grant: Grant) -> tuple[object, ...]:
    """Priority 1 first (empty last), then promotional before paid, then soonest expiry (never
    last), then granted_at, id. A rolled-over remainder keeps its grant's place."""
    return (
        grant.priority is None,
        grant.priority or 0,
        grant.grant_type != "promotional",
        grant.expires_at is None,
        grant.expires_at or datetime.min,
        grant.granted_at,
        grant.grant_id,
    )


def apply_credit_purchases(all_invoices: Sequence[Invoice], grants: Sequence[Grant]) -> None:
    """Append a credit_purchase line for each paid grant with a purchase_amount to its
    customer's invoice in its currency whose period holds granted_at (the first subscription by
    id when several); after discounts, so none takes a share of it."""
    for grant in grants:
        if grant.grant_type != "paid" or grant.purchase_amount is None:
            continue
        holding = [
            invoice
            for invoice in all_invoices
            if invoice.subscription.customer_id == grant.customer_id
            and invoice.subscription.currency == grant.currency
            and invoice.period.start <= grant.granted_at < invoice.period.end
        ]
        if not holding:
            continue  # the build fails on it (assert_credit_purchases_are_billed)
        invoice = min(holding, key=lambda found: found.subscription.subscription_id)
        amount = grant.purchase_amount
        invoice.lines.append(
            Line(
                "credit_purchase",
                None,
                f"Prepaid credit purchase {grant.grant_id}",
                None,
                D(1),
                amount,
                amount,
                credit_grant_id=grant.grant_id,
            )
        )


@dataclass
class Drawn:
    """What a grant paid: in all, and by invoices whose periods ended by its expiry."""

    total: Decimal = ZERO
    before_expiry: Decimal = ZERO


def _is_rollover(grant: Grant, period_end: datetime) -> bool:
    """The invoice ends after the grant expired: only its rolled-over remainder may pay."""
    return grant.expires_at is not None and grant.expires_at < period_end


def _is_usable(grant: Grant, invoice: Invoice) -> bool:
    end = invoice.period.end
    if grant.customer_id != invoice.subscription.customer_id:
        return False
    if grant.currency != invoice.subscription.currency or grant.granted_at >= end:
        return False
    if not _is_rollover(grant, end):
        return True
    if grant.rollover_cap is None:
        return False
    return grant.rollover_expires_at is None or end <= grant.rollover_expires_at


def _owed_by_bucket(invoice: Invoice) -> dict[str, Decimal]:
    """What the invoice owes per bucket ('' for fees and true-ups, else the metric), a bucket
    below zero taken off the others in draw order; bought credit is never paid by credit."""
    owed: dict[str, Decimal] = {}
    for line in invoice.lines:
        if line.line_type == "credit_purchase":
            continue
        bucket = line.metric or ""
        owed[bucket] = owed.get(bucket, ZERO) + line.amount
    deficit = sum((-amount for amount in owed.values() if amount < 0), ZERO)
    for bucket in sorted(owed, key=lambda bucket: (bucket != "", bucket)):
        offset = min(max(owed[bucket], ZERO), deficit)
        owed[bucket] -= offset
        deficit -= offset
    return {bucket: max(amount, ZERO) for bucket, amount in owed.items()}


def apply_credits(all_invoices: Sequence[Invoice], grants: Sequence[Grant]) -> dict[str, Drawn]:
    """Append credit lines to the final invoices, drawing sequentially, and return what each
    grant paid. Per customer and currency, final invoices draw in the order their periods end
    (then invoice id), each from its usable grants in grant_order. The first invoice ending
    after a grant's expiry finds it cut to its rollover: at most rollover_cap of what it had
    left. A grant on a metric pays only that metric's lines; an unscoped one pays fees and
    commitment true-ups first, then metrics by name."""
    balance = {grant.grant_id: grant.amount for grant in grants}
    drawn = {grant.grant_id: Drawn() for grant in grants}
    rolled_over: set[str] = set()
    finals = sorted(
        (invoice for invoice in all_invoices if invoice.period.status == "final"),
        key=lambda invoice: (invoice.period.end, invoice.invoice_id),
    )
    for invoice in finals:
        owed = _owed_by_bucket(invoice)
        buckets = sorted(owed, key=lambda bucket: (bucket != "", bucket))
        usable = sorted((grant for grant in grants if _is_usable(grant, invoice)), key=grant_order)
        for grant in usable:
            is_rollover = _is_rollover(grant, invoice.period.end)
            if is_rollover and grant.grant_id not in rolled_over:
                assert grant.rollover_cap is not None
                rolled_over.add(grant.grant_id)
                balance[grant.grant_id] = min(balance[grant.grant_id], grant.rollover_cap)
            paid = ZERO
            for bucket in buckets:
                if grant.metric is not None and grant.metric != bucket:
                    continue
                take = min(owed[bucket], balance[grant.grant_id])
                owed[bucket] -= take
                balance[grant.grant_id] -= take
                paid += take
            if paid <= 0:
                continue
            drawn[grant.grant_id].total += paid
            if not is_rollover:
                drawn[grant.grant_id].before_expiry += paid
            # The metric by its display name; these metrics declare none: the name in words.
            words = (grant.metric or "").replace("_", " ")
            scope = f" ({words[:1].upper()}{words[1:]} only)" if grant.metric else ""
            kind = "Promotional" if grant.grant_type == "promotional" else "Prepaid"
            invoice.lines.append(
                Line(
                    "credit",
                    None,
                    f"{kind} credit {grant.grant_id}{scope}",
                    None,
                    D(1),
                    -paid,
                    -paid,
                    grant.metric,
                    grant.grant_id,
                )
            )
    return drawn


def balance(grant: Grant, drawn: Drawn, as_of: datetime) -> tuple[object, ...]:
    """(used, rolled over, expired, remaining, status) as of the clock. At expires_at what is
    left beyond the rollover cap expires (all of it without a cap); the rolled-over rest
    expires at rollover_expires_at."""
    past_expiry = grant.expires_at is not None and grant.expires_at <= as_of
    past_rollover = past_expiry and (
        grant.rollover_cap is None
        or (grant.rollover_expires_at is not None and grant.rollover_expires_at <= as_of)
    )
    left_at_expiry = grant.amount - drawn.before_expiry
    rolled = ZERO
    if past_expiry and grant.rollover_cap is not None:
        rolled = min(left_at_expiry, grant.rollover_cap)
    if past_rollover:
        expired = grant.amount - drawn.total
    elif past_expiry:
        expired = left_at_expiry - rolled
    else:
        expired = ZERO
    remaining = grant.amount - drawn.total - expired
    if grant.granted_at > as_of:
        status = "scheduled"
    elif past_rollover or (past_expiry and rolled == 0):
        status = "expired"
    elif remaining <= 0:
        status = "used_up"
    elif past_expiry:
        status = "rolled_over"
    else:
        status = "active"
    return (drawn.total, rolled, expired, remaining, status)
