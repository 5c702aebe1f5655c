"""Locust entry point: the twin's users, its options and its pass/fail thresholds.

Add `loadtests/peak_locustfile.py` (`-f loadtests/locustfile.py,loadtests/peak_locustfile.py`)
for the peak load shape.
"""

from __future__ import annotations

from locust import events

from loadtests.options import add_arguments
from loadtests.thresholds import check
from loadtests.users import IngestUser, ReaderUser
from loadtests.ws_user import StreamUser

__all__ = ["IngestUser", "ReaderUser", "StreamUser"]

events.init_command_line_parser.add_listener(add_arguments)
events.quitting.add_listener(check)
