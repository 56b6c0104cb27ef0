"""NENA's published EIDO schema (resources/schemas, NENA-STA-021.1b) as a jsonschema validator, for the tests."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator

SCHEMA = Path(__file__).resolve().parents[1] / "resources" / "schemas" / "NENA-EIDO-STA-021.1b-openapi.yaml"


@functools.cache
def nena_validator() -> Draft4Validator:
    """NENA's schema is an OpenAPI 3.0.2 document: its components/schemas are OpenAPI Schema Objects, which OpenAPI
    3.0 defines as an extended subset of JSON Schema Wright draft 00 (draft 5, the successor of draft 4 with the same
    validation keywords), so Draft4Validator is the validator that schema declares. The EIDO is
    EmergencyIncidentDataObjectType; its "#/components/schemas/..." references resolve inside the same document."""
    spec = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    assert spec["openapi"] == "3.0.2"
    root = {"$ref": "#/components/schemas/EmergencyIncidentDataObjectType", "components": spec["components"]}
    Draft4Validator.check_schema(root)
    return Draft4Validator(root)


def schema_errors(doc: dict[str, Any]) -> list[str]:
    """Every way `doc` fails NENA's schema, as "json/path: message" (empty: valid)."""
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message[:120]}"
                  for e in nena_validator().iter_errors(doc))
