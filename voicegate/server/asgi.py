"""voicegate as an ASGI application: the call page, the voice endpoints, health and metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketState

from voicegate.server.adapters import (
    BodyTooLargeError,
    StarletteMessageSocket,
    http_request,
    read_body,
)
from voicegate.server.metrics import GatewayMetrics
from voicegate.server.recordings import RecordingLibrary, recording_route
from voicegate.server.static import PAGE_DIR, PageFiles
from voicegate.voice.endpoint import HttpEndpoint, SocketClosedError, WebSocketEndpoint
from voicegate.voice.gateway import VoiceGateway
from voicegate.voice.http import HttpReply
from voicegate.voice.protocol import CloseCode
from voicegate.voice.tokens import TokenAuth, TokenRenewal

logger = logging.getLogger(__name__)

_Handler = Callable[[Request], Awaitable[Response]]
HealthReport = Callable[[], Awaitable[dict[str, str]]]
"""``"ok"`` or why not, per server the gateway depends on (PostgreSQL, Redis)."""


def create_voice_app(
    gateway: VoiceGateway,
    *,
    metrics: GatewayMetrics | None = None,
    page: bool = True,
    endpoints: Sequence[WebSocketEndpoint | HttpEndpoint] = (),
    tokens: TokenAuth | None = None,
    health: HealthReport | None = None,
    recordings: RecordingLibrary | None = None,
) -> Starlette:
    """The ASGI app serving ``gateway``'s voice backends; run it, or mount it in your own app.

    Paths are relative to where the app is served, so ``app.mount("/voice", voice_app)``
    puts them all under ``/voice``: the call page ``/`` and ``/static/...`` (unless
    ``page=False``), each backend that is a
    :class:`~voicegate.voice.endpoint.WebSocketEndpoint` (``/ws``) or an
    :class:`~voicegate.voice.endpoint.HttpEndpoint` (``POST /webrtc/offer``) at its
    ``path``, ``endpoints`` that are no backend (such as the TwiML webhook of
    ``voicegate.telephony.twilio``) at theirs, ``/healthz`` (503 ``draining`` once the
    gateway drains, ``degraded`` when ``health`` reports a dependency other than ``"ok"``),
    ``/metrics`` when ``metrics`` is given (the gateway's observer), and ``POST
    /token/renew`` (:class:`~voicegate.voice.tokens.TokenRenewal`) when ``tokens`` is given,
    the callback the backends authenticate with, and ``GET /recordings/<id>``
    (:func:`~voicegate.server.recordings.recording_route`) when ``recordings`` is given,
    for the clients whose token grants the recording's room. Errors are JSON
    ``{"error": ..., "message": ...}`` bodies; a failing handler is logged and answers 500
    (a WebSocket: close 1011), never a traceback.

    The app neither starts nor closes the gateway: ``await gateway.start()`` before
    serving and ``await gateway.close()`` before the server stops, so that sessions are
    told 1001 (going away) rather than whatever the server sends on shutdown.
    """
    served = (WebSocketEndpoint, HttpEndpoint)
    served_endpoints = [b for b in (*gateway.backends, *endpoints) if isinstance(b, served)]
    if tokens is not None:
        served_endpoints.append(TokenRenewal(tokens))
    paths = [endpoint.path for endpoint in served_endpoints]
    if len(set(paths)) < len(paths):
        raise ValueError(f"two voice endpoints are served at the same path: {sorted(paths)}")
    routes: list[BaseRoute] = []
    if page:
        routes += [Route("/", _page), Mount("/static", app=PageFiles(directory=PAGE_DIR))]
    for endpoint in served_endpoints:
        if isinstance(endpoint, WebSocketEndpoint):
            routes += [
                WebSocketRoute(endpoint.path, _socket_route(endpoint)),
                Route(endpoint.path, _upgrade_required),
            ]
        if isinstance(endpoint, HttpEndpoint):
            routes.append(Route(endpoint.path, _guarded(_http_route(endpoint)), methods=["POST"]))
    routes.append(Route("/healthz", _guarded(_health(gateway, health))))
    if metrics is not None:
        routes.append(Route("/metrics", _guarded(_metrics(metrics))))
    if recordings is not None:
        serve_recording = _guarded(recording_route(recordings, tokens))
        routes.append(Route("/recordings/{recording_id}", serve_recording, methods=["GET"]))
    routes.append(WebSocketRoute("/{path:path}", _no_such_socket))
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})


def _error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """voicegate's JSON error response (see :meth:`HttpReply.error`)."""
    return _response(HttpReply.error(status, message, headers))


def _response(reply: HttpReply) -> Response:
    if isinstance(reply.body, str):
        return Response(reply.body, reply.status, reply.headers, media_type=reply.media_type)
    return JSONResponse(reply.body, reply.status, reply.headers)


def _guarded(handler: _Handler) -> _Handler:
    """``handler``, answering 500 (and logging why) when it raises."""

    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except Exception:
            logger.exception("%s %s failed", request.method, request.url.path)
            return _error_response(500, "internal server error")

    return guarded


def _http_route(endpoint: HttpEndpoint) -> _Handler:
    async def respond(request: Request) -> Response:
        try:
            body = await read_body(request, endpoint.max_body_bytes)
        except BodyTooLargeError as exc:
            return _error_response(413, str(exc))
        except ClientDisconnect:
            return _error_response(400, "the client went away before sending its body")
        return _response(await endpoint.respond(http_request(request, request.method, body)))

    return respond


def _socket_route(endpoint: WebSocketEndpoint) -> Callable[[WebSocket], Awaitable[None]]:
    async def serve(websocket: WebSocket) -> None:
        socket = StarletteMessageSocket(websocket)
        try:
            await endpoint.serve_socket(http_request(websocket, "GET"), socket)
        except SocketClosedError:
            logger.info("WebSocket %s: the client went away", websocket.url.path)
        except Exception:
            logger.exception("WebSocket %s failed", websocket.url.path)
            if websocket.application_state is WebSocketState.CONNECTING:
                await _refuse(websocket, _error_response(500, "internal server error"))
            else:
                await socket.close(CloseCode.INTERNAL_ERROR, "internal_error")

    return serve


async def _refuse(websocket: WebSocket, response: Response) -> None:
    """Answer an upgrade request with ``response`` (403 if the server cannot send one)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(response)
    else:
        await websocket.close()


async def _no_such_socket(websocket: WebSocket) -> None:
    await _refuse(websocket, _error_response(404, f"no such path: {websocket.url.path}"))


async def _upgrade_required(request: Request) -> Response:
    return _error_response(426, "this path takes WebSocket upgrades only", {"Upgrade": "websocket"})


async def _page(request: Request) -> Response:
    return FileResponse(
        PAGE_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


def _health(gateway: VoiceGateway, report: HealthReport | None) -> _Handler:
    started = time.monotonic()

    async def health(request: Request) -> Response:
        store = gateway.kit.store
        dependencies = {} if report is None else await report()
        healthy = store.failure is None and all(v == "ok" for v in dependencies.values())
        if gateway.draining:
            status = "draining"
        elif store.failure is not None:
            status = "unhealthy"
        else:
            status = "ok" if healthy else "degraded"
        body: dict[str, object] = {
            "status": status,
            "sessions": len(gateway.sessions),
            "accepting": gateway.admission.accepting() and not gateway.draining,
            "uptime_s": round(time.monotonic() - started, 1),
            "store": type(store).__name__,
            "dependencies": dependencies,
        }
        if store.failure is not None:
            body["store_error"] = store.failure
        return JSONResponse(body, 200 if status == "ok" else 503)

    return health


def _metrics(metrics: GatewayMetrics) -> _Handler:
    async def render(request: Request) -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    return render


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's routing and static-file errors (404, 405) in voicegate's JSON shape."""
    if not isinstance(exc, HTTPException):  # Starlette only routes HTTPException here
        raise exc
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        message = f"no such path: {request.url.path}"
    elif exc.status_code == 405:
        message = f"method not allowed; use {headers.get('Allow', '')}"
    else:
        message = exc.detail
    return _error_response(exc.status_code, message, headers)
