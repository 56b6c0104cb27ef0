"""The incident search over the hub's whole history, on the wire against a real hub: closed incidents found,
restricted ones only by those who may see them, observers refused, bad criteria answered in plain words."""

from __future__ import annotations

import asyncio
import json

import pytest

from app.client.connection import CommandRefused
from tests.integration.conftest import HubProcess
from tests.integration.test_sessions import answer, signed_in_raw
from tests.integration.waiting import signed_in


def test_search_finds_closed_incidents_and_only_what_the_user_may_see(hub: HubProcess) -> None:
    async def scenario() -> None:
        async with signed_in(hub.url, "fire1", "police1", "observer1", "super1") as (fire, police, observer, chief):
            await fire.call("incident.create", {"type": "structure_fire", "lat": 60.17, "lon": 24.94,
                                                "address": "Bulevardi 1"})
            await fire.call("incident.close", {"incident": "1001", "disposition": "resolved"})
            await police.call("incident.create", {"type": "assault", "lat": 60.17, "lon": 24.94,
                                                  "address": "Bulevardi 5", "restricted": True})
            found = await fire.search({"words": "BULEVARDI"})
            assert [(i["id"], i["status"], i["disposition"]) for i in found["incidents"]] == [
                ("1001", "closed", "resolved")]
            found = await police.search({"words": "bulevardi"})
            assert [i["id"] for i in found["incidents"]] == ["1002", "1001"]  # newest first
            # A fire supervisor watches police's restricted call live, but the history (and so the search) is
            # read as fire may see it, as the history queries read it.
            found = await chief.search({"words": "bulevardi"})
            assert [i["id"] for i in found["incidents"]] == ["1001"]
            found = await police.search({"incident_type": "structure", "until": 0.0})
            assert found["incidents"] == []
            with pytest.raises(CommandRefused, match="forbidden"):
                await observer.search({"words": "bulevardi"})

    asyncio.run(scenario())


def test_bad_search_criteria_are_refused_in_plain_words(hub: HubProcess) -> None:
    async def scenario() -> None:
        ws = await signed_in_raw(hub.url, "fire1")
        refused = await answer(ws, json.dumps({"type": "query", "id": "q-1", "what": "search", "args": {"limit": 0}}))
        assert refused["type"] == "reject" and refused["id"] == "q-1", refused
        assert refused["code"] == "bad_args"
        assert refused["message"] == "search: Expected `int` >= 1 - at `$.limit`"
        refused = await answer(ws, json.dumps({"type": "query", "id": "q-2", "what": "search",
                                               "args": {"color": "red"}}))
        assert refused["type"] == "reject" and "color" in refused["message"], refused
        fine = await answer(ws, json.dumps({"type": "query", "id": "q-3", "what": "search",
                                            "args": {"number": "1001"}}))
        assert fine == {"type": "result", "id": "q-3", "what": "search", "data": {"incidents": []}}
        await ws.close()

    asyncio.run(scenario())
