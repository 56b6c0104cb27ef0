"""The sequencer keeps one broken command to itself: a rule that raises (a bug no check caught) is that command's
`internal` refusal, with nothing applied, and the next command is sequenced as usual. (A `[[]]` polygon once
raised IndexError in the rules and closed its connection with 1011.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.domain import commands as c
from app.domain import decide as rules
from app.domain.agencies import Actor, Role
from app.domain.errors import Refusal
from app.domain.picture import Picture
from app.hub.sequencer import RecentCommands, Sequencer
from app.store.log import EventLog

SUPER = Actor("s1", Role.SUPERVISOR, "fire")


def test_a_rule_that_raises_refuses_that_command_as_internal_and_the_next_one_goes_through(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_cx: object, _args: object) -> list:
        raise IndexError("list index out of range")

    monkeypatch.setitem(rules._RULES, "zone.remove", broken)  # stands in for a rule with an unforeseen bug

    async def scenario() -> None:
        log = EventLog(tmp_path / "hub.db")
        published: list = []
        sequencer = Sequencer(log, Picture(), RecentCommands(lambda key: None), published.extend,
                              lambda: 1_795_240_000.0, frozenset({"fire"}))
        flusher = asyncio.get_running_loop().create_task(sequencer.run())
        with pytest.raises(Refusal) as refused:
            sequencer.submit(SUPER, "zone.remove", c.RemoveZone("Z-1"), "s1/1")
        assert refused.value.code == "internal" and "nothing was applied" in refused.value.reason
        polygon = [(60.17, 24.94), (60.171, 24.94), (60.171, 24.942)]
        applied = await sequencer.submit(SUPER, "zone.create", c.CreateZone("Cordon", polygon), "s1/2")
        assert applied.seqs == [1] and [e.kind for e in published] == ["zone.created"]
        flusher.cancel()
        sequencer.close()
        log.close()

    asyncio.run(scenario())
