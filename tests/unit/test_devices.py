"""The field device registry without a hub: who may register what, how a datagram finds its device, retiring."""

from __future__ import annotations

import pytest

from app.domain import commands as c
from app.domain.devices import DeviceRegistry, parse_source
from app.domain.errors import Refusal
from app.domain.picture import Viewer
from tests.unit.test_domain_rules import FEED, FIRE, SUPER, World

TOKEN = "ab" * 32


def modem(**changes: object) -> c.RegisterDevice:
    args = {"id": "MODEM-1", "agency": "fire", "formats": ["cot"], "transport": "udp", "source": "10.0.0.7",
            "units": ["E11"]}
    args.update(changes)
    return c.RegisterDevice(**args)  # type: ignore[arg-type]


def refusal(world: World, args: c.RegisterDevice, actor=SUPER) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(Refusal) as info:
        world.do(actor, "device.register", args)
    return info.value.code


def test_only_supervisors_register_and_revoke_and_the_agency_sees_its_devices() -> None:
    world = World()
    assert refusal(world, modem(), FIRE) == "forbidden"
    assert refusal(world, modem(), FEED) == "forbidden"
    (event,) = world.do(SUPER, "device.register", modem(rate=20))
    assert event.kind == "device.registered" and event.audience == ["fire"]
    assert event.data["source"] == "10.0.0.7" and event.data["rate"] == 20.0
    device = world.picture.devices["MODEM-1"]
    assert device.active and device.owns_unit("E11") and not device.owns_unit("E12")
    assert list(world.picture.visible_to(Viewer("police")).devices) == []
    assert list(world.picture.visible_to(Viewer("fire")).devices) == ["MODEM-1"]
    with pytest.raises(Refusal, match="forbidden"):
        world.do(FIRE, "device.revoke", c.RevokeDevice("MODEM-1"))
    world.do(SUPER, "device.revoke", c.RevokeDevice("MODEM-1", "stolen"))
    assert not world.picture.devices["MODEM-1"].active and world.picture.devices["MODEM-1"].revoke_reason == "stolen"
    with pytest.raises(Refusal, match="already_revoked"):
        world.do(SUPER, "device.revoke", c.RevokeDevice("MODEM-1"))
    assert refusal(world, modem()) == "duplicate"  # ids are never reused


def test_what_a_registration_must_say() -> None:
    world = World()
    world.do(SUPER, "unit.register", c.RegisterUnit("P1", "police", "patrol"))
    cases = [
        (modem(formats=["cot", "rtsp"]), "bad_format"), (modem(formats=[]), "bad_format"),
        (modem(transport="sctp"), "bad_transport"), (modem(formats=["mavlink"], transport="tcp"), "bad_transport"),
        (modem(source="modem.example"), "bad_source"), (modem(source="10.0.0.7:99999"), "bad_source"),
        (modem(credential="x509"), "bad_credential"), (modem(credential="token", token_sha256=TOKEN), "bad_credential"),
        (modem(transport="tcp", credential="token", token_sha256="secret"), "bad_credential"),
        (modem(token_sha256=TOKEN), "bad_credential"), (modem(units=[]), "missing_field"),
        (modem(units=["E 11"]), "bad_id"), (modem(units=[f"E{n}" for n in range(2001)]), "too_many"),
        (modem(units=["P1"]), "forbidden"),  # police's unit on a fire device
        (modem(rate=0), "bad_rate"), (modem(rate=1e9), "bad_rate"), (modem(agency="navy"), "unknown_agency"),
    ]
    for args, code in cases:
        assert refusal(world, args) == code, args
    world.do(SUPER, "device.register", modem())
    assert refusal(world, modem(id="MODEM-2")) == "duplicate"  # same format, transport and source
    world.do(SUPER, "device.register", modem(id="MODEM-2", source="10.0.0.7:4000"))
    world.do(SUPER, "device.register", modem(id="TAK-1", transport="tcp", credential="token", token_sha256=TOKEN))
    assert refusal(world, modem(id="UAS-1", credential="mavlink_signing")) == "bad_credential"  # CoT cannot sign
    world.do(SUPER, "device.register", modem(id="UAS-1", formats=["mavlink"], credential="mavlink_signing",
                                            units=[], drones=["UAV1"]))


def test_a_datagram_finds_its_device_by_port_first_then_address_and_by_token_on_tcp() -> None:
    world = World()
    world.do(SUPER, "device.register", modem())
    world.do(SUPER, "device.register", modem(id="PINNED", source="10.0.0.7:4000", units=["E12"]))
    world.do(SUPER, "device.register", modem(id="TAK", transport="tcp", credential="token", token_sha256=TOKEN))
    world.do(SUPER, "device.register", modem(id="OLD", source="10.0.0.9"))
    world.do(SUPER, "device.revoke", c.RevokeDevice("OLD"))
    registry = DeviceRegistry(world.picture.devices.values())
    assert registry.match("cot", "udp", "10.0.0.7", 4000).id == "PINNED"  # type: ignore[union-attr]
    assert registry.match("cot", "udp", "10.0.0.7", 4001).id == "MODEM-1"  # type: ignore[union-attr]
    assert registry.match("nmea", "udp", "10.0.0.7", 4001) is None
    assert registry.match("cot", "udp", "10.0.0.8", 4001) is None
    assert registry.match("cot", "udp", "10.0.0.9", 1) is None  # revoked
    assert registry.match("cot", "tcp", "10.0.0.7", 5, TOKEN).id == "TAK"  # type: ignore[union-attr]
    assert registry.match("cot", "tcp", "10.0.0.7", 5) is None
    assert registry.match("cot", "tcp", "10.0.0.7", 5, "x") is None
    assert parse_source("[::1]:5000") == ("::1", 5000) and parse_source("::1") == ("::1", None)



def test_a_tls_device_is_registered_by_certificate_and_found_by_it_alone() -> None:
    world = World()
    phone = modem(id="PHONE-1", transport="tls", source="", credential="certificate", cert_sha256=TOKEN.upper())
    cases = [
        (modem(transport="tls", credential="certificate"), "bad_credential"),  # no fingerprint
        (modem(transport="tls", credential="certificate", cert_sha256="cafe"), "bad_credential"),
        (modem(transport="tls", cert_sha256=TOKEN), "bad_transport"),  # tls without a certificate
        (modem(transport="tcp", credential="certificate", cert_sha256=TOKEN), "bad_credential"),
        (modem(cert_sha256=TOKEN), "bad_credential"),  # a fingerprint on an address device
        (modem(id="PHONE-1", transport="tls", formats=["nmea"], credential="certificate", cert_sha256=TOKEN),
         "bad_transport"),
        (modem(id="PHONE-1", transport="tls", source="", credential="certificate"), "bad_credential"),
    ]
    for args, code in cases:
        assert refusal(world, args) == code, args
    (event,) = world.do(SUPER, "device.register", phone)
    assert event.data["cert_sha256"] == TOKEN and event.data["source"] == "" and "cert_sha256" not in \
        world.do(SUPER, "device.register", modem())[0].data  # other registrations' events are unchanged
    assert refusal(world, modem(id="PHONE-2", transport="tls", source="", credential="certificate",
                                cert_sha256=TOKEN)) == "duplicate"  # one certificate, one device
    other = "cd" * 32
    world.do(SUPER, "device.register", modem(id="PINNED-PHONE", transport="tls", source="10.0.0.5",
                                            credential="certificate", cert_sha256=other, units=["E12"]))
    registry = DeviceRegistry(world.picture.devices.values())
    assert registry.match_certificate("cot", TOKEN, "203.0.113.9", 4000).id == "PHONE-1"  # type: ignore[union-attr]
    assert registry.match_certificate("nmea", TOKEN, "203.0.113.9", 4000) is None
    assert registry.match_certificate("cot", "ef" * 32, "203.0.113.9", 4000) is None  # not registered
    assert registry.match_certificate("cot", other, "10.0.0.5", 1).id == "PINNED-PHONE"  # type: ignore[union-attr]
    assert registry.match_certificate("cot", other, "10.0.0.6", 1) is None  # the wrong address
    assert registry.match("cot", "tls", "203.0.113.9", 4000) is None  # never by address
    world.do(SUPER, "device.revoke", c.RevokeDevice("PHONE-1", "phone lost"))
    assert DeviceRegistry(world.picture.devices.values()).match_certificate("cot", TOKEN, "10.0.0.5", 1) is None

def test_retiring_takes_units_and_drones_off_the_picture() -> None:
    world = World()
    world.do(SUPER, "unit.register", c.RegisterUnit("E11", "fire", "engine"))
    world.do(SUPER, "drone.register", c.RegisterDrone("UAV1", "police"))
    with pytest.raises(Refusal, match="forbidden"):
        world.do(FIRE, "unit.retire", c.RetireUnit("E11"))
    world.do(SUPER, "unit.retire", c.RetireUnit("E11", "made by a rogue device"))
    world.do(SUPER, "drone.retire", c.RetireDrone("UAV1"))
    assert "E11" not in world.picture.units and "UAV1" not in world.picture.drones
    with pytest.raises(Refusal, match="unknown_unit"):
        world.do(SUPER, "unit.retire", c.RetireUnit("E11"))
    world.do(SUPER, "unit.register", c.RegisterUnit("E11", "fire", "engine"))  # the callsign is free again
    incident = world.do(FIRE, "incident.create", c.CreateIncident("structure_fire", 60.17, 24.94))[0].data["id"]
    world.do(FIRE, "unit.assign", c.AssignUnit("E11", incident))
    with pytest.raises(Refusal, match="unit_busy"):
        world.do(SUPER, "unit.retire", c.RetireUnit("E11"))
