"""Secrets out of what is printed: the one helper every message, log line or output that shows a URL (an
index's ``postgresql://`` address above all) goes through.

A URL's password can sit in two places, the userinfo (``postgresql://me:PW@host/db``) and the query string
(``?password=PW``, libpq takes any connection parameter there, ``sslpassword`` too); both are shown as ``***``.
"""
from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

MASK = "***"
# query parameters whose value is a secret: password, sslpassword, any *secret* or *token*
_SECRET_PARAM = re.compile(r"(?i)^[^=]*(password|passwd|secret|token)[^=]*$")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")


def _secrets(url: str) -> list[str]:
    """The secret values of ``url``, as written and percent-decoded."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = []
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        found.append(userinfo.partition(":")[2])
    for pair in parts.query.split("&"):
        key, eq, value = pair.partition("=")
        if eq and _SECRET_PARAM.match(unquote(key)):
            found.append(value)
    return [v for s in found for v in {s, unquote(s)} if v]


def _mask_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    out = url
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.partition(":")[0]
        out = out.replace(f"//{userinfo}@", f"//{user}:{MASK}@", 1)
    if parts.query:
        query = "&".join(f"{k}={MASK}" if eq and _SECRET_PARAM.match(unquote(k)) else f"{k}{eq}{v}"
                         for k, eq, v in (p.partition("=") for p in parts.query.split("&")))
        out = out.replace(f"?{parts.query}", f"?{query}", 1)
    return out


def mask_secrets(text: str, url: str | None = None) -> str:
    """``text`` with the password of every URL in it (userinfo and secret query parameters) shown as ``***``;
    with ``url``, also every occurrence of that URL's secrets anywhere in ``text`` (a driver's error message
    may quote a fragment of the address it was given).

    >>> mask_secrets("postgresql://me:pw@db/cat?sslmode=require&password=pw2")
    'postgresql://me:***@db/cat?sslmode=require&password=***'
    """
    out = _URL.sub(lambda m: _mask_url(m.group(0)), text)
    for secret in sorted(_secrets(url) if url else [], key=len, reverse=True):
        out = out.replace(secret, MASK)
    return out
