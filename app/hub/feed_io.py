"""Start the hub's feed I/O beyond the gateway's listeners: CAP fetch (URL, directory), the CAP outbox, CoT out,
the KLV readers of drones' own video and the signal priority link to the traffic controllers.

`watchfloor hub` calls `start_feed_io(hub, **options)` after `hub.start()`; each service is added to
`hub.services` and closed with the hub. CAP documents submitted over the websocket (`alert.cap`) need none of
this: the hub's `CapIntake` always takes them.
"""

from __future__ import annotations

from typing import Any

from app.domain.signal_priority import PriorityPolicy
from app.domain.signals import RoutePlanner
from app.hub.cap_feed import CapPoller
from app.hub.cap_fetch import FETCH_DEADLINE_S, Network
from app.hub.cap_out import CapOutbox
from app.hub.cot_out import CotOut
from app.hub.klv_video import KlvVideoReaders
from app.hub.signal_link import SignalLink


async def start_feed_io(hub: Any, cap_url: str | None = None, cap_interval: float = 60.0,
                        cap_allow: tuple[Network, ...] = (), cap_deadline: float = FETCH_DEADLINE_S,
                        cap_dir: str | None = None,
                        cap_scan_interval: float = 2.0, cap_out: str | None = None,
                        cap_sender: str | None = None, cot_out: list[str] | None = None, cot_ttl: int = 1,
                        cot_refresh: float = 60.0, klv_video: bool = False,
                        klv_video_allow: tuple[Network, ...] = (), signal_priority: str | None = None,
                        signal_planner: RoutePlanner | None = None,
                        signal_policy: PriorityPolicy | None = None) -> list[Any]:
    """Start what the options ask for; returns the started services (also in `hub.services`)."""
    services: list[Any] = []
    if cap_url or cap_dir:
        services.append(CapPoller(hub, cap_url, cap_interval, cap_dir, cap_scan_interval, cap_allow,
                                  cap_deadline))
    if cap_out:
        services.append(CapOutbox(hub, cap_out, cap_sender))
    services += [CotOut(hub, target, cot_ttl, cot_refresh) for target in cot_out or []]
    if klv_video:
        services.append(KlvVideoReaders(hub, klv_video_allow))
    if signal_priority and signal_planner is not None:
        services.append(SignalLink(hub, signal_priority, signal_planner, signal_policy))
    for service in services:
        await service.start()
        hub.services.append(service)
    return services
