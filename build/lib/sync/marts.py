"""Final invoices and their lines, read from the marts `invoices` and `invoice_lines`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sync.documents import InvoiceVersion, Line
from sync.engine import Warehouse


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return datetime.fromisoformat(str(value))


def _decimal(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, float):  # never expected: money columns are decimals
        raise TypeError("money arrived as a float; the marts must hold decimals")
    return Decimal(value)


def read_final_invoices(warehouse: Warehouse, schema: str) -> list[InvoiceVersion]:
    """Every invoice with status `final`, with its lines in order, by invoice_id."""
    invoices = warehouse.fetch_all(
        f"""
        select invoice_id, customer_id, currency, period_start, period_end, total, content_hash,
            customer_name, plan_name
        from {warehouse.quote(schema, "invoices")}
        where status = 'final'
        order by invoice_id
        """  # noqa: S608 - the schema is quoted, values are literals
    )
    lines: dict[str, list[Line]] = {}
    for row in warehouse.fetch_all(
        f"""
        select lines.invoice_id, lines.line_number, lines.description, lines.quantity,
            lines.unit_price, lines.flat_amount, lines.amount, lines.is_percentage, lines.tier,
            lines.price_id, lines.metric_name, lines.group_value
        from {warehouse.quote(schema, "invoice_lines")} as lines
        join {warehouse.quote(schema, "invoices")} as invoices
            on lines.invoice_id = invoices.invoice_id
        where invoices.status = 'final'
        order by lines.invoice_id, lines.line_number
        """  # noqa: S608 - as above
    ):
        (
            invoice_id,
            number,
            description,
            quantity,
            unit_price,
            flat,
            amount,
            is_percentage,
            tier,
            price_id,
            metric_name,
            group_value,
        ) = row
        lines.setdefault(str(invoice_id), []).append(
            Line(
                line_number=int(number),
                description=str(description or f"Line {number}"),
                quantity=_decimal(quantity),
                unit_price=_decimal(unit_price),
                flat_amount=_decimal(flat),
                amount=_decimal(amount),
                is_percentage=bool(is_percentage),
                tier=None if tier is None else int(tier),
                price_id=None if price_id is None else str(price_id),
                metric_name=None if metric_name is None else str(metric_name),
                group_value=None if group_value is None else str(group_value),
            )
        )
    return [
        InvoiceVersion(
            invoice_id=str(invoice_id),
            customer_id=str(customer_id),
            currency=str(currency).upper(),
            period_start=_moment(start),
            period_end=_moment(end),
            total=_decimal(total),
            content_hash=str(content_hash),
            lines=tuple(lines.get(str(invoice_id), [])),
            customer_name=None if customer_name is None else str(customer_name),
            plan_name=None if plan_name is None else str(plan_name),
        )
        for (
            invoice_id,
            customer_id,
            currency,
            start,
            end,
            total,
            content_hash,
            customer_name,
            plan_name,
        ) in invoices
    ]
