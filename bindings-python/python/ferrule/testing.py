"""Helpers for users' own tests: a manual clock that ferrule primitives can run on."""

from ._ferrule import ManualClock

__all__ = ["ManualClock"]
