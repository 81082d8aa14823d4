"""The viewer's middleware: the token, the same-origin rule for requests that change state, the host check,
the security headers on every response and JSON for internal errors (rules in :mod:`clip2frame.web.access`;
the behaviour is described in :mod:`clip2frame.web.app`'s docstring).

It wraps the whole app, so every route of every router is under it: no route opts in or out.
"""
from __future__ import annotations

import hmac
import logging
from typing import Awaitable, Callable, Sequence
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .access import SAFE_METHODS, bearer_token, cross_origin_reason, local_path

log = logging.getLogger(__name__)

TOKEN_COOKIE = "clip2frame_token"
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    ),
}


def _same(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def _secured(response: Response) -> Response:
    for k, v in _SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    return response


def install_guards(app: FastAPI, *, token: str | None, allowed_hosts: Sequence[str] | None) -> None:
    """Add the access middleware and the internal-error handler to ``app``.

    Parameters
    ----------
    app : FastAPI                 the viewer app (call before it serves; routers may be added before or after).
    token : str | None            the secret every request must carry; ``None``: none.
    allowed_hosts : list | None   accepted ``Host`` header names; ``None`` or empty: any.
    """

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        carried = False  # the token is in the request itself (header or query), not only in the cookie
        if token is not None:
            given = request.query_params.get("token")
            bearer = bearer_token(request.headers.get("authorization"))
            carried = (bearer is not None and _same(bearer, token)) or (given is not None and _same(given, token))
            if given is not None and _same(given, token) and request.method in ("GET", "HEAD"):
                # store it in a cookie and drop it from the address bar (and from the Referer)
                query = "&".join(f"{quote(k)}={quote(v)}" for k, v in request.query_params.multi_items()
                                 if k != "token")
                response: Response = RedirectResponse(local_path(request.url.path) + (f"?{query}" if query else ""),
                                                      status_code=303)
                response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
                return _secured(response)
            if not (carried or _same(request.cookies.get(TOKEN_COOKIE, ""), token)):
                return _secured(JSONResponse({"detail": "token required: open the address `clip2frame serve` "
                                                        "printed (it ends in ?token=...)"}, status_code=401))
        if request.method not in SAFE_METHODS and not carried:
            why = cross_origin_reason(request.headers, request.url.scheme)
            if why is not None:
                log.warning("refused %s %s: %s", request.method, request.url.path, why)
                return _secured(JSONResponse({"detail": f"cross-origin request refused: {why}"}, status_code=403))
        return _secured(await call_next(request))

    if allowed_hosts:
        # added last, so it runs first: a foreign Host never reaches the token check
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts), www_redirect=False)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500)
