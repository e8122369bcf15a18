"""The API specs the contract tests validate requests against, kept in tests/support/specs/
(its README.md gives each file's source and licence). Stripe's are the vendor's published
files; the Sequence one is this project's own description of the calls it makes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from openapi_schema_validator import OAS30Validator

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


def resolve(node: Any, spec: dict[str, Any], depth: int = 0) -> Any:
    """`node` with every `$ref` of `spec` replaced by what it points to (to a bounded depth)."""
    if depth > 40:
        return {}
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return resolve(target, spec, depth + 1)
        return {key: resolve(value, spec, depth + 1) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, spec, depth + 1) for item in node]
    return node


def stripe_validator(spec_path: Path, path: str) -> OAS30Validator:
    """A validator of the form body Stripe's spec takes for POST `path`."""
    spec = load(spec_path)
    body = spec["paths"][path]["post"]["requestBody"]["content"][
        "application/x-www-form-urlencoded"
    ]
    return OAS30Validator(resolve(body["schema"], spec))
