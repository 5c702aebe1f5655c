"""A JSON response rendered by msgspec, for the twin's msgspec Structs (fast, exact)."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi.responses import JSONResponse


class MsgspecResponse(JSONResponse):
    _encoder = msgspec.json.Encoder()

    def render(self, content: Any) -> bytes:
        return self._encoder.encode(content)
