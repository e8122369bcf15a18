"""Daily usage charts as inline SVG drawn on the server by pygal: no script, nothing fetched when
a page is viewed, and the chart prints with the invoice."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

import pygal
from markupsafe import Markup
from pygal.style import Style

from usage_billing import formatting
from usage_billing.marts.model import DailySeries

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#d9dee3",
    opacity="0.9",
    opacity_hover="1",
    colors=("#2f6fdb", "#e0892f", "#3a9d6b", "#8a5cc7", "#c24b5a", "#5b6b7a"),
    font_family="'Liberation Sans', Arial, Helvetica, sans-serif",
    label_font_size=11,
    major_label_font_size=11,
    value_font_size=11,
    tooltip_font_size=12,
)


def _label(value: Decimal, series: DailySeries) -> str:
    if series.is_money:
        return formatting.quantity(value, series.unit)
    return f"{formatting.quantity(value)} {series.unit}".strip()


def _text(text: str) -> Callable[[float], str]:
    """A pygal formatter that shows `text` whatever float pygal holds."""
    return lambda _value: text


def y_axis_labels(top: Decimal) -> list[float]:
    """Round ticks from 0 to at least `top`, 1, 2 or 5 times a power of ten apart, at most six
    of them; 0 and 1 when there is no usage (pygal's own ticks for an all-zero chart are
    fractions that whole-number labels repeat: "1 1 1 1 1 0 0 0 0 0")."""
    if top <= 0:
        return [0.0, 1.0]
    rough = float(top) / 5
    power = 10 ** math.floor(math.log10(rough))
    step = next(power * factor for factor in (1, 2, 5, 10) if power * factor >= rough)
    return [step * index for index in range(math.ceil(float(top) / step - 1e-9) + 1)]


def _tick_text(step: float) -> Callable[[float], str]:
    """Tick labels with as many decimals as the step between them needs, so none repeat."""
    places = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return lambda value: f"{value:,.{places}f}"


def daily_chart(series: DailySeries, through: datetime | date | None = None) -> Markup:
    """One bar per day (stacked by group), each with its exact quantity as text for a reader.
    Days after `through` (the billing clock of a live period) have not happened: no bar."""
    last_day = through.date() if isinstance(through, datetime) else through
    several_groups = len(series.groups) > 1
    day_totals = [
        sum((quantities[index] for quantities in series.groups.values()), Decimal(0))
        for index in range(len(series.days))
    ]
    labels = y_axis_labels(max(day_totals, default=Decimal(0)))
    chart_class = pygal.StackedBar if several_groups else pygal.Bar
    chart = chart_class(
        style=STYLE,
        js=[],  # pygal's tooltips load a script from the web; pages.js shows ours instead.
        disable_xml_declaration=True,
        explicit_size=False,
        width=760,
        height=240,
        show_legend=several_groups,
        legend_at_bottom=True,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, len(series.days) // 10),
        truncate_label=-1,
        margin=8,
        spacing=6,
        print_values=False,
        y_labels=labels,
        range=(labels[0], labels[-1]),
        value_formatter=_tick_text(labels[1] - labels[0]),
        classes=("pygal-chart", "usage-chart"),
    )
    chart.x_labels = [f"{day:%d %b}" for day in series.days]
    for group, quantities in series.groups.items():
        chart.add(
            group or series.metric_name,
            [
                None
                if last_day is not None and day > last_day
                else {
                    # pygal scales bars with floats; the text a reader sees is the exact quantity.
                    "value": float(quantity),
                    "label": f"{day:%a %d %b %Y}",
                    "formatter": _text(_label(quantity, series)),
                }
                for day, quantity in zip(series.days, quantities, strict=True)
            ],
        )
    return Markup(chart.render(is_unicode=True))  # noqa: S704 - pygal escapes the text it writes
