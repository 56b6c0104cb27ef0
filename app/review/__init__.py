"""Supervisor review: replay, timelines, response-time figures, hotspots and reports, built from the log."""
