"""Adds the peak-day load shape to a run (Locust picks up the LoadTestShape it finds here)."""

from loadtests.shapes import PeakShape

__all__ = ["PeakShape"]
