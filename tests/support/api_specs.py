"""The API specs the contract tests validate requests against, kept in tests/support/specs/
(its README.md gives each file's source and licence). Stripe's are the vendor's published
files; the Sequence one is this project's own description of the calls it makes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

SPECS_DIR = Path(__file__).resolve().parent / "specs"
STRIPE_2023 = SPECS_DIR / "stripe_spec3_2023-08-16_invoicing_subset.json"
STRIPE_CURRENT = SPECS_DIR / "stripe_requests_2026-07-29.dahlia.subset.json"
SEQUENCE = SPECS_DIR / "sequence_2024-07-30.usage_billing.openapi.yaml"


def load(path: Path) -> dict[str, Any]:
    """A spec as a dict, from JSON or YAML."""
    text = path.read_text(encoding="utf-8")
    loaded = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    assert isinstance(loaded, dict), path
    return loaded
