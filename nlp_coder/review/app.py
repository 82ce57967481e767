"""The review's web app: the page and the JSON API it uses, on 127.0.0.1 only (Starlette, served
by uvicorn).

Every request needs the session's random token, as the ``token`` query parameter or the
``X-Review-Token`` header (403 without it); so does the page itself, whose URL carries it.
A request whose ``Host`` is not this machine's loopback name is refused (no DNS rebinding), and
so is one from another site's page (its ``Origin``). State changes are POSTs with a JSON body.
Every answer carries a Content-Security-Policy that allows this server's own scripts, styles and
requests and nothing else: the page loads nothing from anywhere else and works offline.

The API (``docs/commands/review.md`` shows real requests and answers):

=======================  =====================================================================
``GET /api/next``        the next fragment to review, with its suggestions and context
``GET /api/fragment``    one fragment (``?id=``)
``GET /api/fragments``   fragments that match a filter (status, code, document, speaker, score)
``GET /api/progress``    decided per action, code and document; the precision estimates
``GET /api/codebook``    the codes (for type-to-search), documents and speakers
``POST /api/decisions``  ``{"fragment_id", "action", "codes", "span"}``: decide a fragment
``POST /api/batch``      ``{"fragment_ids": [...]}``: accept the machine's codes on each
``POST /api/skip``       ``{"fragment_id"}``: put a fragment aside
``POST /api/undo``       take back the last decision
=======================  =====================================================================
"""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import asdict
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from nlp_coder.errors import InputError, NlpCoderError
from nlp_coder.review.records import FragmentView
from nlp_coder.review.session import ReviewSession

TOKEN_HEADER = "X-Review-Token"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
LOOPBACK = ("127.0.0.1", "localhost")
MAX_BODY = 1_000_000
MAX_LIST = 100_000
STATIC = {"review.js": "text/javascript; charset=utf-8", "review.css": "text/css; charset=utf-8"}


def new_token() -> str:
    """A random per-session token (32 bytes, URL-safe)."""
    return secrets.token_urlsafe(32)


class _Refused(Exception):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def _headers() -> dict[str, str]:
    return {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store", "X-Frame-Options": "DENY"}


def _answer(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=_headers())


def _error(status: int, message: str, code: str | None = None) -> JSONResponse:
    body: dict[str, object] = {"error": message}
    if code:
        body["code"] = code
    return _answer(body, status)


def _view(view: FragmentView | None) -> dict[str, object] | None:
    return None if view is None else view.as_dict()


def build_app(session: ReviewSession, token: str) -> Starlette:
    """The web app serving ``session``; every request must carry ``token``."""

    def check(request: Request) -> None:
        host = (request.headers.get("host") or "").rsplit(":", 1)[0].strip("[]")
        if host not in LOOPBACK:
            raise _Refused(403, "this server answers only on 127.0.0.1")
        origin = request.headers.get("origin")
        if origin is not None and origin.split("://", 1)[-1].rsplit(":", 1)[0] not in LOOPBACK:
            raise _Refused(403, "requests from other sites are refused")
        given = request.headers.get(TOKEN_HEADER) or request.query_params.get("token") or ""
        if not secrets.compare_digest(given.encode(), token.encode()):
            raise _Refused(403, "missing or wrong token: open the URL the review command printed")

    async def body(request: Request) -> dict[str, Any]:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise _Refused(415, "send the request body as JSON (Content-Type: application/json)", "E145")
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise _Refused(413, f"the request body is over {MAX_BODY} bytes", "E145")
        try:
            data = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Refused(400, f"the request body is not valid JSON ({exc})", "E145") from None
        if not isinstance(data, dict):
            raise _Refused(400, "the request body must be a JSON object", "E145")
        return data

    def text_field(data: dict[str, Any], name: str) -> str:
        value = data.get(name)
        if not isinstance(value, str):
            raise _Refused(400, f"{name!r} must be a string", "E145")
        return value

    def guarded(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                check(request)
                return await handler(request)
            except _Refused as refused:
                return _error(refused.status, refused.message, refused.code)
            except NlpCoderError as exc:
                return _error(404 if exc.code == "E140" else 400, str(exc), exc.code)
        return endpoint

    async def page(request: Request) -> Response:
        from jinja2 import Environment, select_autoescape

        template = resources.files("nlp_coder.review").joinpath("static/review.html").read_text(encoding="utf-8")
        html = Environment(autoescape=select_autoescape(default=True)).from_string(template).render(
            token=token, codebook=session.codebook.name, reviewer=session.options.reviewer)
        return Response(html, media_type="text/html; charset=utf-8", headers=_headers())

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            raise _Refused(404, "not found")
        data = resources.files("nlp_coder.review").joinpath(f"static/{name}").read_bytes()
        return Response(data, media_type=STATIC[name], headers=_headers())

    async def next_fragment(request: Request) -> Response:
        return _answer({"fragment": _view(session.next()), "progress": _summary()})

    async def fragment(request: Request) -> Response:
        return _answer({"fragment": _view(session.view(request.query_params.get("id", "")))})

    async def fragments(request: Request) -> Response:
        q = request.query_params

        def number(name: str) -> float | None:
            value = q.get(name)
            if value in (None, ""):
                return None
            try:
                parsed = float(value)
            except ValueError:
                parsed = math.nan
            if not math.isfinite(parsed):
                raise _Refused(400, f"{name} must be a number, not {value[:20]!r}", "E145")
            return parsed

        limit = number("limit")
        keys, total = session.select(status=q.get("status") or None, code=q.get("code") or None,
                                     document=q.get("document") or None, speaker=q.get("speaker") or None,
                                     min_score=number("min_score"), max_score=number("max_score"),
                                     decided=q.get("decided", "pending") or None,
                                     limit=int(limit) if limit is not None and limit >= 0 else 200)
        best = session.best_scores()
        rows = []
        for key in keys:
            i = session.index[key]
            f = session.fragments[i]
            decision = session.current.get(i)
            rows.append({"key": key, "document": f.document, "speaker": f.speaker, "text": f.text,
                         "status": session.machine.picks[i][0][0], "codes": list(session.machine_codes[i]),
                         "score": round(float(best[i]), 4),
                         "decision": None if decision is None else asdict(decision)})
        return _answer({"total": total, "fragments": rows})

    def _summary() -> dict[str, object]:
        return {"fragments": len(session.fragments), "decided": session.decided}

    async def progress(request: Request) -> Response:
        return _answer(session.progress().as_dict())

    async def codebook(request: Request) -> Response:
        codes = [{"id": c.id, "name": c.name, "definition": c.definition, "facet": c.facet}
                 for c in session.codable]
        documents = list(session.documents)
        speakers = sorted({f.speaker for f in session.fragments if f.speaker is not None})
        return _answer({"name": session.codebook.name, "reviewer": session.options.reviewer, "codes": codes,
                        "documents": documents, "speakers": speakers})

    async def decisions(request: Request) -> Response:
        data = await body(request)
        key = text_field(data, "fragment_id")
        action = text_field(data, "action")
        codes = data.get("codes", [])
        if not isinstance(codes, list) or len(codes) > 1000:
            raise _Refused(400, "'codes' must be a list of code ids", "E145")
        span = data.get("span")
        if span is not None and not (isinstance(span, list) and len(span) == 2 and all(type(v) is int for v in span)):
            raise _Refused(400, "'span' must be [start, end], two whole numbers", "E145")
        row = session.decide(key, action, codes, span=tuple(span) if span is not None else None)
        return _answer({"decision": asdict(row), "next": _view(session.next()), "progress": _summary()})

    async def batch(request: Request) -> Response:
        data = await body(request)
        keys = data.get("fragment_ids")
        if not isinstance(keys, list) or not keys or len(keys) > MAX_LIST or not all(isinstance(k, str) for k in keys):
            raise _Refused(400, "'fragment_ids' must be a non-empty list of fragment ids", "E145")
        rows = session.accept_many(keys)
        return _answer({"accepted": len(rows), "next": _view(session.next()), "progress": _summary()})

    async def skip(request: Request) -> Response:
        data = await body(request)
        return _answer({"next": _view(session.skip(text_field(data, "fragment_id"))), "progress": _summary()})

    async def undo(request: Request) -> Response:
        await body(request)
        view = session.undo()
        if view is None:
            raise _Refused(409, "there is no decision to undo", "E145")
        return _answer({"fragment": _view(view), "progress": _summary()})

    routes = [
        Route("/", guarded(page)),
        Route("/static/{name}", guarded(static)),
        Route("/api/next", guarded(next_fragment)),
        Route("/api/fragment", guarded(fragment)),
        Route("/api/fragments", guarded(fragments)),
        Route("/api/progress", guarded(progress)),
        Route("/api/codebook", guarded(codebook)),
        Route("/api/decisions", guarded(decisions), methods=["POST"]),
        Route("/api/batch", guarded(batch), methods=["POST"]),
        Route("/api/skip", guarded(skip), methods=["POST"]),
        Route("/api/undo", guarded(undo), methods=["POST"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        try:
            check(request)
        except _Refused as refused:
            return _error(refused.status, refused.message)
        status = getattr(exc, "status_code", 404)
        return _error(status, "no such page" if status == 404 else "method not allowed: state changes are POSTs")

    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})


def serve(session: ReviewSession, *, port: int = 0, open_browser: bool = True, token: str | None = None,
          announce: Any = print) -> None:
    """Serve the review on 127.0.0.1 until interrupted (Ctrl-C).

    Args:
        session: the review.
        port: the port (0: a free one).
        open_browser: open the page in the default browser.
        token: the session's token (default: a new random one).
        announce: called with the page's URL (the token in it) once the server listens.

    Raises:
        InputError: ``E130`` the port is taken or cannot be used.
    """
    import socket
    import threading
    import webbrowser

    import uvicorn

    token = token or new_token()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", port))
    except OSError as exc:
        listener.close()
        raise InputError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc})", "--port",
                         "Give another port, or 0 for a free one", code="E130") from None
    actual = listener.getsockname()[1]
    url = f"http://127.0.0.1:{actual}/?token={token}"
    config = uvicorn.Config(build_app(session, token), log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    announce(url)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.run(sockets=[listener])
    finally:
        listener.close()
