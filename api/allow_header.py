"""A 405's `Allow` header lists every method of the path, not only those of its first route.

Starlette answers a method a path does not have from the first route whose path matches,
so `PUT /v1/scenarios` said `Allow: GET` although the path also takes POST. This ASGI
middleware rewrites the header of a 405 from all the app's routes that match the path.
Mounts (the static files) answer their own 405s and are left as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import routing as fastapi_routing
from starlette.routing import BaseRoute, Mount, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _leaf_routes(routes: list[BaseRoute]) -> Iterable[Any]:
    """Every route with its full path: FastAPI keeps included routers nested (>= 0.120)."""
    iter_contexts = getattr(fastapi_routing, "iter_route_contexts", None)
    return routes if iter_contexts is None else iter_contexts(routes)


def allowed_methods(routes: list[BaseRoute], path: str) -> list[str]:
    """Every method some route serves at this path, sorted."""
    methods: set[str] = set()
    for route in _leaf_routes(routes):
        route_path, route_methods = getattr(route, "path", None), getattr(route, "methods", None)
        if isinstance(route, Mount) or not route_path or not route_methods:
            continue
        regex, _, _ = compile_path(route_path)
        if regex.match(path):
            methods.update(route_methods)
    return sorted(methods)


class AllowHeader:
    """Fix the `Allow` header of every 405 the app sends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = allowed_methods(scope["app"].router.routes, scope["path"])
                if methods:
                    headers = [(k, v) for k, v in message.get("headers", []) if k != b"allow"]
                    headers.append((b"allow", ", ".join(methods).encode("latin-1")))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_allow)
