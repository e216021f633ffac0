"""Permanence: open-source software for telephone answering services."""

__version__ = "0.1.0"
