"""Play a script through the hub's own rules without a hub: what the picture would be, and what is refused.

The same `decide` and fold the hub runs, fed the scenario's commands in order with a made-up clock. Used to
check that everything a scenario issues is acceptable, and to know the picture a run should produce.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import msgspec

from app.domain.agencies import Actor, Role
from app.domain.commands import COMMANDS
from app.domain.decide import decide
from app.domain.errors import Refusal
from app.domain.events import Event
from app.domain.picture import Picture
from app.sim.scenario import DISPATCH, RAW, Ref, SimCommand

#: Where the made-up clock starts (any fixed epoch will do).
EPOCH = 1_700_000_000.0


@dataclass(slots=True)
class OfflinePlay:
    """The picture after the script, and the refusals as "command: code" -> count."""

    picture: Picture
    refused: Counter[str] = field(default_factory=Counter)


def play_offline(commands: list[SimCommand]) -> OfflinePlay:
    """Apply `commands` as a feed account (fleet) and a supervisor (dispatch) would; raw frames are skipped."""
    result = OfflinePlay(Picture())
    fleet, supervisor = Actor("sim-fleet", Role.FEED, "*"), Actor("sim-dispatch", Role.SUPERVISOR, "*")
    ids: dict[str, str] = {}
    for i, command in enumerate(commands):
        if command.name == RAW:
            continue
        if any(isinstance(v, Ref) and v.key not in ids for v in command.args.values()):
            result.refused[f"{command.name}: unresolved"] += 1
            continue
        args = {k: ids[v.key] if isinstance(v, Ref) else v for k, v in command.args.items()}
        now = EPOCH + command.t + i * 1e-6  # strictly increasing, as the hub's clock
        actor = supervisor if command.channel == DISPATCH else fleet
        try:
            drafts = decide(result.picture, actor, command.name, msgspec.convert(args, COMMANDS[command.name]), now)
        except Refusal as refusal:
            result.refused[f"{command.name}: {refusal.code}"] += 1
            continue
        for draft in drafts:
            result.picture.apply(Event(result.picture.seq + 1, now, actor.user, draft.kind, draft.data,
                                       draft.audience))
        if command.ref is not None:
            ids[command.ref] = drafts[0].data["id"]
    return result
