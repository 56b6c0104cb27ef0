"""docs/protocol.md writes the picture down for client writers in any language ("The picture"): one table per
kind of thing in it. These tests fail when the tables and the code drift apart: a field added, renamed, removed,
made nullable or given another type, a value added to a list of allowed values, or a class added to the picture
without being written down; and when the snapshot example stops being exactly what the hub sends."""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from enum import StrEnum
from pathlib import Path

import pytest

from app.domain.agencies import UNIT_KINDS
from app.domain.devices import CREDENTIALS, FORMATS, TRANSPORTS
from app.domain.drone_rules import DRONE_KINDS, LINK_STATES
from app.domain.entities import ALERT_VALUES
from app.domain.incident_types import INCIDENT_TYPES
from app.domain.location import PRECISIONS
from app.domain.picture import Picture
from app.domain.signal_priority import STATES
from app.domain.triage import SOURCE_KINDS
from app.protocol.messages import decode_hub, encode

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


@dataclasses.dataclass(frozen=True)
class Row:
    """One field as the document writes it down."""

    type: str  # the JSON type: the first word of the type cell
    null: bool
    text: str  # the whole row, where allowed values are named in backticks


def _section() -> str:
    text = DOC.read_text()
    match = re.search(r"^## The picture\n(.*?)(?=^## )", text, re.M | re.S)
    assert match is not None, "docs/protocol.md has no '## The picture' section"
    return match.group(1)


def _tables() -> dict[str, dict[str, Row]]:
    """Class name (the `### ` heading) -> field name -> its row."""
    parts = re.split(r"^### (\w+)\n", _section(), flags=re.M)
    tables: dict[str, dict[str, Row]] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        rows: dict[str, Row] = {}
        for line in body.splitlines():
            if not line.startswith("| `"):
                continue
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            assert len(cells) == 4, f"{name}: a row is | field | type | null | meaning |: {line}"
            field, type_cell, null_cell, _ = cells
            assert null_cell in ("yes", "no"), f"{name}.{field}: the null column says yes or no, not {null_cell!r}"
            json_type = re.match(r"[a-z]+", type_cell)
            assert json_type is not None, f"{name}.{field}: the type column starts with a JSON type: {type_cell!r}"
            rows[field.strip("`")] = Row(json_type.group(0), null_cell == "yes", line)
        tables[name] = rows
    return tables


def _dataclasses_in(annotation: object) -> list[type]:
    """The dataclasses an annotation names, at any depth (`dict[str, list[Note]]` -> [Note])."""
    found = [annotation] if isinstance(annotation, type) and dataclasses.is_dataclass(annotation) else []
    for arg in typing.get_args(annotation):
        found += _dataclasses_in(arg)
    return found


def _picture_classes() -> dict[str, type]:
    """Picture and every dataclass reachable from its fields: everything a snapshot holds."""
    seen: dict[str, type] = {}
    todo: list[type] = [Picture]
    while todo:
        cls = todo.pop()
        if cls.__name__ in seen:
            continue
        seen[cls.__name__] = cls
        for hint in typing.get_type_hints(cls).values():
            todo += _dataclasses_in(hint)
    return seen


def _json_type(annotation: object) -> tuple[str, bool]:
    """(the JSON type the codec writes for an annotation, whether it may be null)."""
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kinds = {_json_type(a)[0] for a in args if a is not type(None)}
        assert len(kinds) == 1, f"a union of several JSON types is not in the document's vocabulary: {annotation}"
        return kinds.pop(), type(None) in args
    origin = typing.get_origin(annotation) or annotation
    if origin in (list, tuple):
        return "array", False
    if origin is dict or (isinstance(origin, type) and dataclasses.is_dataclass(origin)):
        return "object", False
    if origin is bool:
        return "boolean", False
    if origin is int:
        return "integer", False
    if origin is float:
        return "number", False
    if isinstance(origin, type) and issubclass(origin, str):
        return "string", False
    raise AssertionError(f"no JSON type known for {annotation}")


CLASSES = _picture_classes()

#: Fields whose values the code keeps to a list that is not their annotation (StrEnum fields are found by type).
ALLOWED: dict[tuple[str, str], typing.Iterable[str]] = {
    ("Incident", "type"): INCIDENT_TYPES,
    ("Incident", "location_precision"): PRECISIONS,
    ("Unit", "kind"): UNIT_KINDS,
    ("Drone", "kind"): DRONE_KINDS,
    ("Drone", "link"): LINK_STATES,
    ("Candidate", "source"): SOURCE_KINDS,
    ("Device", "formats"): FORMATS,
    ("Device", "transport"): TRANSPORTS,
    ("Device", "credential"): CREDENTIALS,
    **{("Alert", name): values for name, values in ALERT_VALUES.items()},
    ("SignalPriority", "state"): STATES,
}


def test_every_class_in_the_picture_has_a_table_and_no_table_is_stale() -> None:
    tables = set(_tables())
    assert tables == set(CLASSES), (f"not written down: {sorted(set(CLASSES) - tables)}; "
                                    f"written down but not in the picture: {sorted(tables - set(CLASSES))}")


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_the_table_lists_exactly_the_fields(name: str) -> None:
    documented = set(_tables().get(name, {}))
    real = {f.name for f in dataclasses.fields(CLASSES[name])}
    assert documented == real, (f"{name}: fields not written down: {sorted(real - documented)}; "
                                f"written down but not in the code: {sorted(documented - real)}")


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_each_field_has_its_json_type_and_nullability(name: str) -> None:
    rows = _tables().get(name, {})
    for field, hint in typing.get_type_hints(CLASSES[name]).items():
        if field not in rows:
            continue  # reported by test_the_table_lists_exactly_the_fields
        json_type, nullable = _json_type(hint)
        assert (rows[field].type, rows[field].null) == (json_type, nullable), (
            f"{name}.{field} is written down as {rows[field].type} (null: {rows[field].null}), "
            f"the code writes {json_type} (null: {nullable})")


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_every_allowed_value_is_written_down(name: str) -> None:
    rows = _tables().get(name, {})
    hints = typing.get_type_hints(CLASSES[name])
    for field, hint in hints.items():
        values = ALLOWED.get((name, field))
        if values is None and isinstance(hint, type) and issubclass(hint, StrEnum):
            values = [member.value for member in hint]
        if values is None or field not in rows:
            continue
        missing = [v for v in values if f"`{v}`" not in rows[field].text]
        assert not missing, f"{name}.{field}: allowed values not written down: {missing}"


def test_the_snapshot_example_is_exactly_what_the_hub_sends() -> None:
    """Every field present (the hub never leaves one out) and no field the code does not have: decoding the
    example with the real codec and encoding it again gives the same JSON."""
    blocks = re.findall(r"```json hub\n(.*?)```", DOC.read_text(), re.S)
    example = next(body for body in blocks if '"type": "snapshot"' in body)
    assert json.loads(encode(decode_hub(example))) == json.loads(example)
