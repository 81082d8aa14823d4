"""Every route of the viewer that can change state is under the access rules of ``clip2frame.web.access``:
the app's routes are walked (all routers, the live view's included), and each POST/PUT/PATCH/DELETE is sent
cross-site without the token (403), and, with a token configured, without it (401). The refusal comes from
the guard before the route runs (its message), so no route can be added beside the rules unnoticed."""
from __future__ import annotations

import re

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.routing import APIRoute  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from clip2frame.web.app import create_app  # noqa: E402

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _analyze(path):  # never reached: every request below is refused before its route runs
    raise AssertionError(f"a refused request reached the analyzer ({path})")


def _api_routes(routes) -> list[APIRoute]:
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):  # FastAPI >= 0.16x keeps an included router whole (no prefixes here)
            out += _api_routes(route.original_router.routes)
    return out


def _unsafe_routes(app) -> list[tuple[str, str]]:
    return [(method, re.sub(r"\{[^}]+\}", "x", route.path))
            for route in _api_routes(app.routes) for method in sorted(route.methods & UNSAFE)]


def test_the_walk_finds_the_state_changing_routes(tmp_path):
    app = create_app(tmp_path, analyze=_analyze, sync_on_start=False)
    found = _unsafe_routes(app)
    for expected in [("POST", "/api/jobs"), ("POST", "/api/index/rescan"), ("POST", "/api/live"),
                     ("POST", "/api/live/x/audio"), ("POST", "/api/live/x/close")]:
        assert expected in found


@pytest.mark.parametrize("origin", [{"origin": "http://evil.example"}, {"sec-fetch-site": "cross-site",
                                                                         "origin": "http://testserver"}, {}])
def test_every_state_changing_route_refuses_cross_site_requests(tmp_path, origin):
    app = create_app(tmp_path, analyze=_analyze, sync_on_start=False)
    with TestClient(app) as client:
        for method, path in _unsafe_routes(app):
            r = client.request(method, path, headers=origin, content=b"\0" * 8)
            assert r.status_code == 403, (method, path, r.status_code)
            assert r.json()["detail"].startswith("cross-origin request refused"), (method, path)
            assert r.headers["x-frame-options"] == "DENY"


def test_every_state_changing_route_needs_the_token(tmp_path):
    app = create_app(tmp_path, analyze=_analyze, sync_on_start=False, token="s3cret")
    with TestClient(app) as client:
        routes = _unsafe_routes(app)
        for method, path in routes:
            r = client.request(method, path, headers={"origin": "http://testserver"}, content=b"\0" * 8)
            assert r.status_code == 401, (method, path, r.status_code)
        # the cookie alone does not pass the same-origin rule
        client.cookies.set("clip2frame_token", "s3cret")
        for method, path in routes:
            r = client.request(method, path, headers={"origin": "http://evil.example"}, content=b"\0" * 8)
            assert r.status_code == 403, (method, path, r.status_code)
