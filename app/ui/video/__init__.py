"""Drone video: the live stream panel."""

from app.ui.video.panel import VideoPanel, VideoState

__all__ = ["VideoPanel", "VideoState"]
