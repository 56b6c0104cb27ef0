"""The CAD command language: each verb, its arguments, and the errors a dispatcher sees."""

from __future__ import annotations

import pytest

from app.client.cad import CadError, help_text, parse

AGENCIES = frozenset({"fire", "police", "medical"})


def test_dispatch_one_and_many_units() -> None:
    assert parse("D E12 1042").commands == [("unit.assign", {"unit": "E12", "incident": "1042"})]
    assert parse("d e1 m3 1001").commands == [("unit.assign", {"unit": "E1", "incident": "1001"}),
                                              ("unit.assign", {"unit": "M3", "incident": "1001"})]


@pytest.mark.parametrize(("line", "status"), [
    ("ER E12", "en_route"), ("os m3", "on_scene"), ("TR M3", "transporting"), ("AH M3", "at_hospital"),
    ("AV E12", "available"), ("OOS E12", "out_of_service")])
def test_status_verbs(line: str, status: str) -> None:
    (name, args), = parse(line).commands
    assert name == "unit.status"
    assert args == {"unit": line.split()[1].upper(), "status": status}


def test_close_note_priority_keep_free_text() -> None:
    assert parse("CL 1042 false_alarm").commands == [
        ("incident.close", {"incident": "1042", "disposition": "false_alarm"})]
    assert parse("N 1042  Caller reports   smoke, 3rd floor").commands == [
        ("incident.note", {"incident": "1042", "text": "Caller reports   smoke, 3rd floor"})]
    assert parse("P 1042 1").commands == [("incident.update", {"incident": "1042", "priority": 1})]


def test_mutual_aid_request_and_answers() -> None:
    assert parse("AID 1042 police traffic control", AGENCIES).commands == [
        ("aid.request", {"incident": "1042", "agency": "police", "note": "traffic control"})]
    assert parse("ACC AR-3").commands == [("aid.answer", {"request": "AR-3", "accept": True, "note": ""})]
    assert parse("dec 3 no units").commands == [
        ("aid.answer", {"request": "AR-3", "accept": False, "note": "no units"})]


def test_message_channels() -> None:
    assert parse("MSG all Smoke showing", AGENCIES).commands == [
        ("message.send", {"channel": "all", "text": "Smoke showing"})]
    assert parse("MSG police need traffic control", AGENCIES).commands[0][1]["channel"] == "agency:police"
    assert parse("MSG 1042 on my way", AGENCIES).commands[0][1]["channel"] == "incident:1042"


@pytest.mark.parametrize(("line", "expected"), [
    ("", "type a command"), ("XYZ 1", "unknown command"), ("D E12", "usage: D"), ("D E12 abc", "not an incident"),
    ("ER", "usage: ER"), ("CL 1042", "usage: CL"), ("P 1042 9", "usage: P"), ("AID 1042 army", "no agency"),
    ("MSG army hello", "not a channel")])
def test_errors_say_what_is_expected(line: str, expected: str) -> None:
    with pytest.raises(CadError, match=expected):
        parse(line, AGENCIES)


def test_help_lists_every_verb() -> None:
    assert parse("help").verb == "HELP"
    for verb in ("D ", "ER ", "CL ", "AID ", "ACC ", "MSG "):
        assert verb in help_text()
