"""Who may do what on the viewer: the token, the same-origin rule for requests that change state, and the
token-to-cookie redirect. Pure functions of headers and paths (no FastAPI), so they are tested alone.

* **Token** (``clip2frame serve --token``): sent as ``Authorization: Bearer T`` (the scheme in any case,
  RFC 7235 §2.1), as ``?token=T`` on any URL, or as the HttpOnly cookie that a ``GET ...?token=T`` stores.
* **Cross-site request forgery**: a request that is not GET/HEAD/OPTIONS (uploads, rescans) is refused with
  403 unless it carries the token itself (header or query: a page elsewhere cannot know it), or comes from a
  page of this server: ``Sec-Fetch-Site`` (when sent) is ``same-origin`` or ``none``, and ``Origin`` (or,
  without one, ``Referer``) names the host and port the request was sent to (``Host``). The cookie alone is
  not enough: a page on another port of the same host is *same-site*, so browsers send it ``SameSite=Strict``
  cookies. Requests without Origin and Referer are refused too: browsers send Origin with every POST, so a
  request without either is a script, and a script on this machine sends the token or an Origin.
* **Redirect**: the token-to-cookie redirect goes to a path of this server only (:func:`local_path`).
"""
from __future__ import annotations

from typing import Mapping
from urllib.parse import quote, urlsplit

#: Methods that never change state (the app has no GET handler with side effects).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 pchar (unreserved and percent-encoded aside) plus "/": left as they are in a redirect path.
_PATH_SAFE = "/!$&'()*+,;=:@"


def bearer_token(authorization: str | None) -> str | None:
    """The credentials of an ``Authorization: Bearer <token>`` header (scheme matched case-insensitively),
    else ``None``."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def _authority(scheme: str, netloc: str) -> tuple[str, int | None] | None:
    """``(host, port)`` of ``netloc`` with the scheme's default port as ``None``; ``None`` when malformed."""
    try:
        parts = urlsplit(f"//{netloc}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host or parts.username is not None or parts.password is not None:
        return None
    return host.lower(), None if port == _DEFAULT_PORTS.get(scheme.lower()) else port


def cross_origin_reason(headers: Mapping[str, str], scheme: str) -> str | None:
    """Why a state-changing request does not come from a page of this server (one line), or ``None`` when
    it does. ``headers`` are the request's (lower-case names); ``scheme`` is the request URL's."""
    site = headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in ("same-origin", "none"):
        return f"Sec-Fetch-Site: {site}"
    what, source = "Origin", headers.get("origin")
    if source is None:
        what, source = "Referer", headers.get("referer")
    if source is None:
        return "no Origin or Referer header (send the token, or the Origin of this server)"
    if source.strip() == "null":
        return f"{what}: null"
    try:
        parts = urlsplit(source.strip())
    except ValueError:
        return f"{what} {source!r} is not an http(s) origin"
    theirs = _authority(parts.scheme, parts.netloc) if parts.scheme.lower() in _DEFAULT_PORTS else None
    if theirs is None:
        return f"{what} {source!r} is not an http(s) origin"
    ours = _authority(scheme, headers.get("host", ""))
    if ours is None or theirs != ours:
        return f"{what} {parts.scheme}://{parts.netloc} is not this server ({headers.get('host', 'no Host')})"
    return None


def local_path(path: str) -> str:
    """``path`` as a redirect target that can only ever be a path of this server: leading slashes and
    backslashes collapse into one ``/`` (``//evil.com``, ``/\\evil.com`` would leave the site), and every
    character outside RFC 3986's path characters is percent-encoded (a tab, which browsers drop, too)."""
    return "/" + quote(path.lstrip("/\\"), safe=_PATH_SAFE)
