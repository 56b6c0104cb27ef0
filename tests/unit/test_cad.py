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


def test_many_units_on_a_status_line_each_with_its_own_label() -> None:
    command = parse("AV E13 E14 L12 e13")
    assert command.commands == [("unit.status", {"unit": u, "status": "available"}) for u in ("E13", "E14", "L12")]
    assert command.labels == ["E13 available", "E14 available", "L12 available"]
    assert parse("ACK E1 M3").commands == [("unit.check", {"unit": "E1", "note": ""}),
                                           ("unit.check", {"unit": "M3", "note": ""})]


def test_unit_operations_and_lifecycle_verbs() -> None:
    assert parse("DIV e12 1044 P1 fire, nearest").commands == [
        ("unit.divert", {"unit": "E12", "incident": "1044", "reason": "P1 fire, nearest"})]
    assert parse("STK E12 1044").commands == [("unit.stack", {"unit": "E12", "incident": "1044"})]
    assert parse("STK E12").commands == [("unit.stack", {"unit": "E12", "incident": None})]
    assert parse("CLA 1042 resolved").commands == [("incident.clear", {"incident": "1042", "disposition": "resolved"})]
    assert parse("UC 1042").commands == [("incident.status", {"incident": "1042", "status": "under_control"})]
    assert parse("RO 1042 rang back").commands == [("incident.reopen", {"incident": "1042", "reason": "rang back"})]
    assert parse("HOLD 1042 wait for police").commands == [
        ("incident.hold", {"incident": "1042", "held": True, "reason": "wait for police"})]
    assert parse("UNHOLD 1042").commands == [("incident.hold", {"incident": "1042", "held": False, "reason": ""})]
    assert parse("CAN 3 fire out").commands == [("aid.cancel", {"request": "AR-3", "reason": "fire out"})]
    assert (parse("Q").commands, parse("Q").search) == ([], "pending")
    assert parse("S bulevardi unit:E1").search == "bulevardi unit:E1"


@pytest.mark.parametrize(("line", "expected"), [
    ("DIV E12 1044", "usage: DIV"), ("STK", "usage: STK"), ("STK E1 x", "not an incident"), ("CLA 1042", "usage: CLA"),
    ("UC", "usage: UC"), ("UNHOLD 1 2", "usage: UNHOLD"), ("CAN", "usage: CAN"), ("S", "usage: S"), ("AV", "usage: AV"),
    ("Q 1", "usage: Q")])
def test_new_verbs_say_what_is_expected(line: str, expected: str) -> None:
    with pytest.raises(CadError, match=expected):
        parse(line, AGENCIES)
