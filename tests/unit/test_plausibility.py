"""Intrusion detection on positions, through decide and the fold as the hub runs them: each rule raises a
`security.alert` for supervisors and marks the fix suspect; plausible driving, jitter and parking raise
nothing."""

from __future__ import annotations

import pytest

from app.domain import commands as c
from app.domain.agencies import Actor, Role
from app.domain.decide import decide
from app.domain.events import Event
from app.domain.picture import Picture, Viewer
from app.domain.plausibility import SYBIL_COUNT, SYBIL_WINDOW_S, Strangers, named_stranger
from app.domain.security_alerts import ALERT_EVERY_S
from tests.unit.test_domain_rules import FEED, FIRE, SUPER, World, with_fleet

MODEM = Actor("device:MODEM-1", Role.FEED, "fire")
OTHER = Actor("device:MODEM-2", Role.FEED, "fire")
DRONE_LINK = Actor("device:GCS-1", Role.FEED, "police")
M_PER_DEG = 111_195.0
LAT, LON = 60.170, 24.940


def north(metres: float) -> float:
    return LAT + metres / M_PER_DEG


class Track:
    """One unit's device reporting fixes at chosen times (seconds after the world's clock at the start)."""

    def __init__(self, world: World, unit: str = "E1", actor: Actor = MODEM) -> None:
        self.world, self.unit, self.actor = world, unit, actor
        self.start = world.now

    def fix(self, at: float, metres_north: float, actor: Actor | None = None, *, received: float | None = None,
            speed: float | None = None) -> list[Event]:
        """Report the unit `metres_north` of the start point, taken at `at`; the hub receives it at `received`
        (default: when it was taken)."""
        self.world.now = self.start + (at if received is None else received) - 1  # `do` adds one second
        return self.world.do(actor or self.actor, "unit.position",
                             c.ReportPosition(self.unit, north(metres_north), LON, speed=speed, t=self.start + at))


def alerts(events: list[Event]) -> list[Event]:
    return [e for e in events if e.kind == "security.alert"]


def rule_of(events: list[Event]) -> str | None:
    found = alerts(events)
    assert len(found) <= 1
    return found[0].data["rule"] if found else None


@pytest.fixture
def world() -> World:
    return with_fleet(World())


def test_driving_parking_and_jitter_raise_nothing(world: World) -> None:
    track = Track(world)
    for k in range(60):  # 2 min at 20 m/s (72 km/h), a fix every 2 s
        assert alerts(track.fix(2.0 * k, 40.0 * k, speed=20.0)) == []
    for k in range(60, 120):  # parked: fixes wander by up to 25 m
        assert alerts(track.fix(2.0 * k, 40.0 * 59 + (25.0 if k % 2 else -25.0), speed=0.0)) == []
    assert world.picture.units["E1"].suspect == ""
    assert world.picture.security.alerts == {}


def test_a_jump_no_engine_could_make_is_a_teleport(world: World) -> None:
    track = Track(world)
    track.fix(0, 0)
    track.fix(2, 30)
    events = track.fix(4, 5000)  # 5 km in 2 s
    assert rule_of(events) == "teleport"
    position, alert = events
    assert position.kind == "unit.position" and position.data["suspect"] == "teleport"
    assert world.picture.units["E1"].suspect == "teleport"  # applied and shown as suspect, not dropped
    assert alert.audience == ["security"] and alert.data["device"] == "device:MODEM-1"
    assert alert.data["unit"] == "E1" and alert.data["id"] == "SA-1"
    assert alert.data["evidence"]["distance_m"] == pytest.approx(4970, abs=2)
    # The next fix drives on from where the unit now is: believed again, and no acceleration alarm.
    assert alerts(track.fix(6, 5030)) == [] and world.picture.units["E1"].suspect == ""


def test_appearing_far_from_the_last_fix_after_a_gap_is_a_teleport(world: World) -> None:
    track = Track(world)
    track.fix(0, 0)
    assert rule_of(track.fix(600, 60_000)) == "teleport"  # 60 km in 10 min: 100 m/s for a fire engine
    assert rule_of(track.fix(1200, 80_000)) is None  # 20 km in 10 min: 33 m/s, plausible


def test_speeding_beyond_the_kind_is_suspect(world: World) -> None:
    track = Track(world)
    track.fix(0, 0)
    assert rule_of(track.fix(10, 600)) == "speed"  # 57 m/s: an engine cannot
    patrol = Track(world, "P1", Actor("device:TAK", Role.FEED, "police"))
    patrol.fix(0, 0)
    assert rule_of(patrol.fix(10, 600)) is None  # a patrol car can


def test_an_impossible_change_of_speed_is_suspect(world: World) -> None:
    track = Track(world, "P1", Actor("device:TAK", Role.FEED, "police"))
    track.fix(0, 0)
    track.fix(2, 60)  # at least 10 m/s (30 m in 3 s, once jitter is allowed for)
    assert rule_of(track.fix(4, 260)) == "acceleration"  # at least 56.7 m/s two seconds later: 23.3 m/s²
    assert world.picture.units["P1"].suspect == "acceleration"


def test_a_reported_speed_the_fixes_do_not_show_is_suspect(world: World) -> None:
    patrol = Track(world, "P1", Actor("device:TAK", Role.FEED, "police"))
    patrol.fix(0, 0)
    assert rule_of(patrol.fix(2, 20, speed=60.0)) == "speed_claim"  # says 60 m/s, moved 20 m in 2 s
    assert rule_of(patrol.fix(4, 60, speed=20.0)) is None
    engine = Track(world)
    engine.fix(0, 0)
    assert rule_of(engine.fix(2, 60, speed=45.0)) == "speed_claim"  # faster than any engine drives


def test_a_standing_unit_whose_fix_moves_is_suspect(world: World) -> None:
    track = Track(world)
    track.fix(0, 0, speed=0.0)
    assert rule_of(track.fix(60, 25, speed=0.0)) is None  # jitter
    assert rule_of(track.fix(120, 400, speed=0.0)) == "standing_jump"  # 375 m while standing: an injected offset
    assert rule_of(track.fix(180, 420, speed=8.0)) is None  # driving off is not
    assert rule_of(track.fix(240, 1000, speed=0.0)) is None  # nor is stopping somewhere else


def test_a_position_that_stays_put_while_the_speed_says_driving_is_frozen(world: World) -> None:
    track = Track(world)
    track.fix(0, 0, speed=15.0)
    rules = [rule_of(track.fix(2.0 * k, 10.0 * (k % 2), speed=15.0)) for k in range(1, 8)]
    assert rules == [None] * 6 + ["frozen"]  # 210 m claimed in 14 s, yet it never left the spot
    assert rule_of(track.fix(30, 300, speed=15.0)) is None  # moving again


def test_pulling_out_after_a_stand_is_not_frozen(world: World) -> None:
    track = Track(world)
    track.fix(0, 0, speed=0.0)
    assert rule_of(track.fix(52, 5, speed=17.0)) is None  # its first fix as it pulls out, from where it stood
    assert rule_of(track.fix(54.3, 29, speed=17.0)) is None  # 24 m in 2.3 s, within the jitter


def test_two_fixes_a_fraction_of_a_second_apart_are_not_speeding(world: World) -> None:
    track = Track(world)
    track.fix(0, 0, speed=15.0)
    assert rule_of(track.fix(0.25, 49, speed=15.0)) is None  # 49 m: one second of driving, and GPS noise


def test_a_device_making_up_many_units_is_a_sybil_attack(world: World) -> None:
    tak = Actor("device:POLICE-TAK", Role.FEED, "police")
    made = [world.do(tak, "unit.register", c.RegisterUnit(f"X{k}", "police", "patrol")) for k in range(12)]
    assert [rule_of(events) for events in made] == [None] * 10 + ["sybil", None]  # once per device a minute
    assert alerts(made[10])[0].data["device"] == "device:POLICE-TAK"
    assert world.picture.units["X10"].suspect == "sybil" and world.picture.units["X9"].suspect == ""
    # A person (or a signed-in feed) registering a fleet is not a device making things up.
    assert all(rule_of(world.do(FEED, "unit.register", c.RegisterUnit(f"Y{k}", "police", "patrol"))) is None
               for k in range(12))


def test_a_device_naming_many_units_it_may_not_report_for_is_a_sybil_attack() -> None:
    seen: Strangers | None = None
    found = []
    for k in range(30):  # 30 made-up ids within the window, each named twice
        for _ in range(2):
            seen, finding = named_stranger(seen, f"SYB{k}", 1000.0 + k)
            found.append(finding)
    raised = [f for f in found if f is not None]
    assert len(raised) == 1 and found.index(raised[0]) == 2 * SYBIL_COUNT  # the 11th distinct id, once
    assert raised[0].rule == "sybil"
    assert raised[0].evidence == {"unknown_ids": SYBIL_COUNT + 1, "examples": ["SYB0", "SYB1", "SYB10"],
                                  "window_s": SYBIL_WINDOW_S, "limit": SYBIL_COUNT}
    assert seen is not None and len(seen.names) == SYBIL_COUNT  # bounded, whatever the device sends
    # The next window counts afresh and may raise again.
    for k in range(SYBIL_COUNT + 1):
        seen, finding = named_stranger(seen, f"NEW{k}", 1000.0 + SYBIL_WINDOW_S + k)
    assert finding is not None and finding.evidence["examples"][-1] == f"NEW{SYBIL_COUNT}"


def test_one_wrong_unit_named_again_and_again_raises_nothing() -> None:
    seen: Strangers | None = None
    for k in range(500):
        seen, finding = named_stranger(seen, "E99" if k % 2 else "E98", float(k))
        assert finding is None
    # Ten strangers a window, window after window, stay under the limit.
    for k in range(5 * SYBIL_COUNT):
        seen, finding = named_stranger(seen, f"S{k}", 1000.0 + (k // SYBIL_COUNT) * SYBIL_WINDOW_S)
        assert finding is None


def test_the_gateway_reports_a_sybil_finding_as_the_device_itself(world: World) -> None:
    nmea = Actor("device:AMB-AVL", Role.FEED, "medical")
    (alert,) = world.do(nmea, "security.sybil", c.ReportSybil(11, ["SYB0", "SYB1", "SYB10"]))
    assert alert.kind == "security.alert" and alert.audience == ["security"]
    assert alert.data["rule"] == "sybil" and alert.data["device"] == "device:AMB-AVL" and alert.data["unit"] is None
    assert alert.data["evidence"] == {"unknown_ids": 11, "examples": ["SYB0", "SYB1", "SYB10"],
                                      "window_s": SYBIL_WINDOW_S, "limit": SYBIL_COUNT}
    assert world.do(nmea, "security.sybil", c.ReportSybil(11, ["X"])) == []  # one per device a minute
    # Nobody else raises it, and no feed accuses a device: the alert always names its sender.
    assert world.refused(FEED, "security.sybil", c.ReportSybil(11, [])).code == "forbidden"
    assert world.refused(SUPER, "security.sybil", c.ReportSybil(11, [])).code == "forbidden"
    assert world.refused(OTHER, "security.sybil", c.ReportSybil(11, ["a"] * 4)).code == "too_many"


def test_a_hub_may_turn_detection_off(world: World) -> None:
    start = world.now
    world.do(MODEM, "unit.position", c.ReportPosition("E1", LAT, LON, t=start))
    drafts = decide(world.picture, MODEM, "unit.position", c.ReportPosition("E1", north(5000), LON, t=start + 1),
                    start + 1, judge_fixes=False)
    assert [d.kind for d in drafts] == ["unit.position"] and "suspect" not in drafts[0].data


def test_positions_from_people_and_signed_in_feeds_are_not_judged(world: World) -> None:
    world.do(FIRE, "unit.position", c.ReportPosition("E1", LAT, LON))
    assert alerts(world.do(FIRE, "unit.position", c.ReportPosition("E1", north(5000), LON))) == []


def test_a_fix_from_the_future_is_suspect(world: World) -> None:
    track = Track(world)
    track.fix(0, 0)
    assert rule_of(track.fix(20, 0, received=10)) == "future"  # taken 10 s after the hub received it


def test_a_replayed_fix_is_reported_and_not_applied(world: World) -> None:
    track = Track(world)
    track.fix(0, 0)
    track.fix(100, 100)
    (alert,) = track.fix(10, 10, received=102)
    assert alert.kind == "security.alert" and alert.data["rule"] == "replay"
    assert alert.data["evidence"]["age_s"] == 90.0
    assert world.picture.units["E1"].position_at == track.start + 100  # the old fix did not move the unit
    # A datagram overtaken in flight is only stale, as before.
    assert world.refused(MODEM, "unit.position", c.ReportPosition("E1", LAT, LON, t=track.start + 95)).code \
        == "stale_position"


def test_a_flood_of_fixes_is_a_report_rate_anomaly(world: World) -> None:
    track = Track(world)
    rules = [rule_of(track.fix(0.1 * k, 0)) for k in range(40)]
    assert rules[:30] == [None] * 30 and rules[30] == "report_rate"
    assert rules[31:] == [None] * 9  # raised once a minute, though every fix of the flood is marked
    assert world.picture.units["E1"].suspect == "report_rate"


def test_one_unit_reported_by_two_devices_is_an_identity_clash(world: World) -> None:
    track = Track(world)
    track.fix(0, 0)
    assert rule_of(track.fix(2, 10, OTHER)) is None  # a second box on the same engine agrees on where it is
    events = track.fix(4, 600)  # ... then the first puts it 600 m away
    assert rule_of(events) == "identity_clash"
    assert alerts(events)[0].data["evidence"]["other_device"] == "device:MODEM-2"
    # A device that takes over long after the other fell silent is not a clash (a replaced modem).
    assert rule_of(track.fix(200, 1500, OTHER)) is None


def test_cad_on_scene_while_the_gps_is_far_away(world: World) -> None:
    (created,) = world.do(FIRE, "incident.create", c.CreateIncident("structure_fire", north(5000), LON))
    incident = created.data["id"]
    world.do(FIRE, "unit.assign", c.AssignUnit("E1", incident))
    world.do(FIRE, "unit.status", c.SetUnitStatus("E1", "en_route"))
    Track(world).fix(0, 0)  # the engine's modem: still at the station, 5 km away
    events = world.do(FIRE, "unit.status", c.SetUnitStatus("E1", "on_scene"))
    assert events[0].kind == "unit.status" and rule_of(events) == "on_scene_far"
    assert alerts(events)[0].data["evidence"]["distance_m"] == pytest.approx(5000, abs=2)
    assert alerts(events)[0].data["device"] == "device:MODEM-1"  # the GPS that disagrees; CAD is the person
    assert alerts(events)[0].data["evidence"]["on_scene_by"] == "f1"
    # Close enough: no alert.
    world.do(FIRE, "unit.assign", c.AssignUnit("E2", incident))
    world.do(FIRE, "unit.status", c.SetUnitStatus("E2", "en_route"))
    Track(world, "E2").fix(0, 5000 - 200)
    assert rule_of(world.do(FIRE, "unit.status", c.SetUnitStatus("E2", "on_scene"))) is None


def test_drone_telemetry_is_checked_against_its_kind(world: World) -> None:
    world.do(FEED, "drone.register", c.RegisterDrone("UAV1", "police", "multirotor"))
    start = world.now
    world.do(DRONE_LINK, "drone.telemetry", c.ReportDroneTelemetry("UAV1", LAT, LON, t=start))
    events = world.do(DRONE_LINK, "drone.telemetry", c.ReportDroneTelemetry("UAV1", north(3000), LON, t=start + 2))
    assert rule_of(events) == "teleport" and alerts(events)[0].data["drone"] == "UAV1"
    assert world.picture.drones["UAV1"].suspect == "teleport"
    for k in range(1, 61):  # an autopilot at 10 Hz, flying at 10 m/s: no flood for a drone
        world.now = start + 2 + 0.1 * k - 1
        assert alerts(world.do(DRONE_LINK, "drone.telemetry", c.ReportDroneTelemetry(
            "UAV1", north(3000 + k), LON, t=start + 2 + 0.1 * k))) == []


def test_cot_and_mavlink_disagreeing_about_one_drone_is_an_identity_clash(world: World) -> None:
    world.do(FEED, "drone.register", c.RegisterDrone("UAV1", "police", "multirotor"))
    autopilot, ground_station = DRONE_LINK, Actor("device:POLICE-GCS", Role.FEED, "police")
    start = world.now
    world.do(autopilot, "drone.telemetry", c.ReportDroneTelemetry("UAV1", LAT, LON, t=start))
    assert alerts(world.do(ground_station, "drone.telemetry",
                           c.ReportDroneTelemetry("UAV1", north(20), LON, t=start + 1))) == []  # they agree
    events = world.do(autopilot, "drone.telemetry", c.ReportDroneTelemetry("UAV1", north(900), LON, t=start + 3))
    assert rule_of(events) == "identity_clash"
    assert alerts(events)[0].data["evidence"]["other_device"] == "device:POLICE-GCS"


def test_only_supervisors_see_and_acknowledge_alerts(world: World) -> None:
    track = Track(world)
    track.fix(0, 0)
    track.fix(2, 5000)
    (alert_id,) = world.picture.security.alerts
    assert world.picture.visible_to(Viewer("fire")).security.alerts == {}
    assert list(world.picture.visible_to(Viewer("fire", supervisor=True)).security.alerts) == [alert_id]
    assert world.refused(FIRE, "security.acknowledge", c.AcknowledgeSecurityAlert(alert_id)).code == "forbidden"
    (ack,) = world.do(SUPER, "security.acknowledge", c.AcknowledgeSecurityAlert(alert_id, "modem swapped"))
    assert ack.kind == "security.acknowledged" and ack.audience == ["security"]
    alert = world.picture.security.alerts[alert_id]
    assert alert.acknowledged_by == "s1" and alert.note == "modem swapped"
    assert world.refused(SUPER, "security.acknowledge", c.AcknowledgeSecurityAlert(alert_id)).code \
        == "already_acknowledged"
    assert world.refused(SUPER, "security.acknowledge", c.AcknowledgeSecurityAlert("SA-99")).code == "unknown_alert"


class LoggedWorld(World):
    """A world that keeps its events, to fold them again."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[Event] = []

    def do(self, actor: Actor, name: str, args: object) -> list[Event]:
        events = super().do(actor, name, args)
        self.log += events
        return events


def test_a_replay_of_the_log_finds_the_same_tracks_and_alerts() -> None:
    world = with_fleet(LoggedWorld())
    track = Track(world)
    for k, metres in enumerate([0, 30, 5000, 5030, 5060, 0]):
        track.fix(2.0 * k, metres)
    refolded = Picture().apply_all(world.log)  # as replay and a restarted hub fold the log
    assert refolded.tracks == world.picture.tracks and refolded.security == world.picture.security
    assert len(refolded.security.alerts) == 1 and refolded.units["E1"].suspect == "teleport"


def test_one_alert_per_rule_and_unit_per_interval(world: World) -> None:
    track = Track(world)
    track.fix(0, 0)
    raised = [rule_of(track.fix(2.0 * k, 5000.0 * (k % 2))) for k in range(1, 11)]
    assert raised == ["teleport"] + [None] * 9
    assert rule_of(track.fix(22 + ALERT_EVERY_S, 5000)) == "teleport"


def test_a_receivers_own_jamming_or_spoofing_warning_marks_a_plausible_fix(world: World) -> None:
    """GNSS integrity: the fix a receiver (or autopilot) itself doubts is applied, marked with its warning, and
    raises an alert, though the track finds nothing wrong with it; the next fix without a warning is believed."""
    track = Track(world)
    track.fix(0, 0)
    start = track.start
    events = world.do(MODEM, "unit.position", c.ReportPosition("E1", north(20), LON, t=start + 2, gnss="unsafe"))
    assert rule_of(events) == "gnss_unsafe" and alerts(events)[0].data["evidence"]["gnss"] == "unsafe"
    assert world.picture.units["E1"].suspect == "gnss_unsafe" and world.picture.units["E1"].lat == north(20)
    world.now = start + 3
    assert rule_of(world.do(MODEM, "unit.position", c.ReportPosition("E1", north(40), LON, t=start + 4))) is None
    assert world.picture.units["E1"].suspect == ""

    world.do(FEED, "drone.register", c.RegisterDrone("UAV1", "police", "multirotor"))
    for n, warning in enumerate(("jamming", "spoofing")):
        world.now = start + 10 + n
        events = world.do(DRONE_LINK, "drone.telemetry",
                          c.ReportDroneTelemetry("UAV1", LAT, LON, t=start + 11 + n, gnss=warning))
        assert rule_of(events) == f"gnss_{warning}" and alerts(events)[0].data["drone"] == "UAV1"
        assert world.picture.drones["UAV1"].suspect == f"gnss_{warning}"


def test_an_unknown_gnss_warning_is_refused(world: World) -> None:
    refusal = world.refused(MODEM, "unit.position", c.ReportPosition("E1", LAT, LON, t=world.now, gnss="cloudy"))
    assert refusal.code == "bad_gnss"
