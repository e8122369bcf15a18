"""One event's share of a count or sum metric, computed as the build's SQL would, for the events
the server accepted after the build's clock.

The rule comes from the build (`journal_rule` of usage_billing__entitlements, written by
macros/metrics/metric_journal_rule.sql), so the server never reads the metric definitions
itself. Where the warehouse's answer for an event is not certain here (a number compared as
text, a value with more digits than a decimal keeps, a text that may or may not cast), the
share raises `NotExactError` and the caller answers from the build alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# A text the warehouse's try_cast turns into this very decimal.
PLAIN_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
# decimal(38, 10), and numbers a double carries exactly enough to print back (15 digits).
DECIMAL_PLACES = 10
EXACT_DIGITS = 15
MISSING = None


class NotExactError(Exception):
    """The warehouse's figure for this event cannot be told here with certainty."""


@dataclass(frozen=True)
class Filter:
    path: tuple[str, ...]
    operator: str
    operand: Any


@dataclass(frozen=True)
class JournalRule:
    """A metric's event selection and value: count (1 an event) or sum (its property)."""

    aggregation: str
    event_type: str | None
    property: tuple[str, ...] | None
    filters: tuple[Filter, ...]

    @classmethod
    def parse(cls, text: str) -> JournalRule:
        rule = json.loads(text)
        return cls(
            aggregation=str(rule["aggregation"]),
            event_type=rule.get("event_type"),
            property=tuple(rule["property"].split(".")) if rule.get("property") else None,
            filters=tuple(
                Filter(tuple(path.split(".")), operator, operand)
                for path, operator, operand in rule.get("filters") or []
            ),
        )

    def share(self, event_type: str, properties: dict[str, Any]) -> Decimal:
        """What the event adds to the metric: 0 when the metric does not select it."""
        if self.event_type is not None and event_type != self.event_type:
            return Decimal(0)
        if not all(_passes(item, _at(properties, item.path)) for item in self.filters):
            return Decimal(0)
        if self.aggregation == "count":
            return Decimal(1)
        assert self.property is not None
        value = _number(_at(properties, self.property))
        return Decimal(0) if value is None else value


def parse_properties(data: bytes) -> dict[str, Any]:
    """An event's properties with numbers as exact decimals (bool stays bool)."""
    parsed = json.loads(data, parse_float=Decimal, parse_int=Decimal)
    return parsed if isinstance(parsed, dict) else {}


def _at(properties: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = properties
    for key in path:
        if not isinstance(value, dict):
            return MISSING
        value = value.get(key)
    return value


def _text(value: Any) -> str | None:
    """The value as the warehouse's JSON text extraction gives it, or NotExactError."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    raise NotExactError("a number or an object compared as text")


def _number(value: Any) -> Decimal | None:
    """The value as the warehouse's try_cast to decimal gives it (None: no number)."""
    if value is None:
        return None
    if isinstance(value, Decimal):  # a JSON number (booleans stay bool)
        if len(value.as_tuple().digits) > EXACT_DIGITS:
            raise NotExactError("more digits than a JSON number keeps exactly")
        number = value
    elif isinstance(value, str) and PLAIN_DECIMAL.match(value):
        number = Decimal(value)
    else:
        raise NotExactError("a value that may not be a number")
    exponent = number.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -DECIMAL_PLACES:
        raise NotExactError("more decimal places than the warehouse keeps")
    return number


def _passes(item: Filter, value: Any) -> bool:
    """One filter condition as macros/metrics/metric_filter.sql writes it; SQL's null is false,
    except where the macro coalesces it to true (ne, not_in)."""
    if item.operator == "exists":
        return (value is not None) == bool(item.operand)
    if item.operator in ("gt", "gte", "lt", "lte"):
        number = _number(value)
        if number is None:
            return False
        bound = Decimal(str(item.operand))
        return {
            "gt": number > bound,
            "gte": number >= bound,
            "lt": number < bound,
            "lte": number <= bound,
        }[item.operator]
    text = _text(value)
    if item.operator == "eq":
        return text is not None and text == item.operand
    if item.operator == "in":
        return text is not None and text in item.operand
    if item.operator == "ne":
        return text is None or text != item.operand
    if item.operator == "not_in":
        return text is None or text not in item.operand
    raise NotExactError(f"unknown filter operator {item.operator}")
