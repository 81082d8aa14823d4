"""The web viewer: ``clip2frame serve`` (FastAPI on 127.0.0.1 + one static HTML/JS page).

``create_app`` lives in :mod:`clip2frame.web.app` (imports FastAPI, the ``serve`` extra: import it from there);
the helpers in :mod:`clip2frame.web.media` and :mod:`clip2frame.web.results` need only the base install, so this
package itself imports nothing.
"""
