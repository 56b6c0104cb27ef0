"""Watchfloor: one common operating picture for fire, police and medical dispatch."""

__version__ = "0.1.0"
