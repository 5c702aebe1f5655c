"""Locust entry point: the twin's users, its options and its pass/fail thresholds.

Add `loadtests/shape_locustfile.py` (`-f loadtests/locustfile.py,loadtests/shape_locustfile.py`)
for the load shape named by `--shape`.
"""

from __future__ import annotations

from typing import Any

from locust import events

from loadtests.options import add_arguments
from loadtests.probe_user import VisibilityProbeUser
from loadtests.thresholds import check
from loadtests.users import IngestUser, ReaderUser
from loadtests.ws_user import StreamUser

__all__ = ["IngestUser", "ReaderUser", "StreamUser", "VisibilityProbeUser"]


def _set_probe_count(environment: Any, **_kwargs: Any) -> None:
    # Before the first spawn, in every process: the master's count decides the dispatch.
    options = environment.parsed_options
    if options is None:
        return
    if options.probe_users > 0:
        VisibilityProbeUser.fixed_count = options.probe_users
    else:  # a fixed count of 0 would make Locust weigh it in with the others
        classes = environment.user_classes
        classes[:] = [user for user in classes if user is not VisibilityProbeUser]


events.init_command_line_parser.add_listener(add_arguments)
events.init.add_listener(_set_probe_count)
events.quitting.add_listener(check)
