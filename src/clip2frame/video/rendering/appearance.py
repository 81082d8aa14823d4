"""How the embedded audio-visual corpus looks: instrument pictures, backgrounds, players, camera and encoding.

A :class:`Look` holds every appearance choice of one video. ``VideoSynthConfig.appearance`` picks how looks
are drawn:

* ``fixed`` (the default; the only look before 2026-12-06): every video looks the same way — Noto Color
  Emoji instruments, a gradient background with random shapes, block-bodied players, the config's frame
  size, frame rate, camera shake, zoom and encoding quality;
* ``random``: each video draws its look from the **training pool** (:data:`TRAIN_POOL`): instrument
  pictures from two sources (the emoji glyphs, optionally hue-shifted, or filled line drawings in a random
  colour), four background families, two player shapes and random clothes, instrument scale 0.7–1.3x,
  aspect ratio (4:3, 3:2, 16:9, 1:1 at a 256-pixel long side), frame rate (15–30 fps), camera shake
  (0–2 px), zoom (0–8%) and H.264 quality (CRF 18–32).

The **held-out style** (:data:`HELDOUT`: outline sketches of the instruments, tiled backgrounds and stick
players) is never in the training pool: ``VideoSynthConfig.n_heldout_style`` renders a ``heldout-style``
split in it, so that a model can be scored on an appearance it has never seen (issue #14, item 6).

Every picture keeps the contact anchors of :data:`ANCHORS` (normalised ``u, v``), so the playing motions of
:mod:`clip2frame.video.rendering.scene` land on the instrument whatever it looks like.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

try:  # Pillow draws the emoji pictures (it is no declared dependency): without it every picture is a stand-in
    from PIL import Image, ImageDraw, ImageFont
    HAVE_PIL = True
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_PIL = False

from ...extras import require
from .settings import VideoSynthConfig

log = logging.getLogger(__name__)

FONT_PATH = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
GLYPHS = {
    "accordion": "\U0001FA97", "cello": "\U0001F3BB", "drums": "\U0001F941", "flute": "\U0001FA88",
    "guitar": "\U0001F3B8", "piano": "\U0001F3B9", "saxophone": "\U0001F3B7", "trumpet": "\U0001F3BA",
    "violin": "\U0001F3BB",
}
# Contact anchors in picture-normalised coordinates (u, v) of the violin-family layout etc.
ANCHORS = {
    "accordion": {"hand_l": (0.08, 0.62), "hand_r": (0.92, 0.42), "centre": (0.5, 0.5)},
    "violin": {"bow": (0.36, 0.62), "finger": (0.70, 0.26)},
    "guitar": {"strum": (0.30, 0.68), "finger": (0.72, 0.26)},
    "trumpet": {"valves": (0.62, 0.40), "mouth": (0.93, 0.10)},
    "saxophone": {"keys": (0.42, 0.55), "mouth": (0.88, 0.22)},
    "drums": {"skin_l": (0.36, 0.42), "skin_r": (0.64, 0.42)},
    "piano": {"keys_l": (0.30, 0.78), "keys_r": (0.70, 0.78)},
    "flute": {"holes": (0.50, 0.50), "mouth": (0.82, 0.18)},
}
ANCHORS["cello"] = ANCHORS["violin"]

PICTURES = ("emoji", "drawn", "sketch")
BACKGROUNDS = ("gradient", "stripes", "noise", "room", "tiles")
BODIES = ("block", "round", "stick")
#: Frame sizes (H, W) of ``random`` looks: 4:3, 3:2, 16:9 and 1:1 at a 256-pixel long side.
FRAME_SIZES = ((192, 256), (170, 256), (144, 256), (256, 256))
FRAME_RATES = (15.0, 20.0, 25.0, 30.0)


@dataclass(frozen=True)
class Look:
    """Every appearance choice of one video (``Look()`` is the ``fixed`` look but for the config's sizes)."""

    pictures: str = "emoji"          # emoji | drawn | sketch
    background: str = "gradient"     # gradient | stripes | noise | room | tiles
    body: str = "block"              # block | round | stick
    tint: tuple[float, float, float] = (0.8, 0.5, 0.2)   # drawn/sketch pictures' main colour
    hue_shift: int = 0               # emoji pictures: OpenCV hue rotation (0-179)
    scale: float = 1.0               # instrument size factor
    style: str = "fixed"             # fixed | train | heldout (which pool the look came from)


#: The pools of ``random`` looks.
TRAIN_POOL = {"pictures": ("emoji", "drawn"), "background": ("gradient", "stripes", "noise", "room"),
              "body": ("block", "round")}
HELDOUT = {"pictures": ("sketch",), "background": ("tiles",), "body": ("stick",)}


def pool_look(rng: np.random.Generator, *, heldout: bool = False) -> Look:
    """A random look from the training pool (or the held-out style): pictures, background, body, tint, hue
    shift and scale, drawn from ``rng`` in that order."""
    pool = HELDOUT if heldout else TRAIN_POOL
    pictures = str(rng.choice(pool["pictures"]))
    return Look(pictures=pictures, background=str(rng.choice(pool["background"])), body=str(rng.choice(pool["body"])),
                tint=tuple(float(x) for x in rng.uniform(0.15, 0.9, 3)),  # type: ignore[arg-type]
                hue_shift=int(rng.integers(0, 180)) if pictures == "emoji" and rng.random() < 0.5 else 0,
                scale=float(rng.uniform(0.7, 1.3)), style="heldout" if heldout else "train")


def draw_look(cfg: VideoSynthConfig, index: int, *, heldout: bool = False) -> tuple[Look, VideoSynthConfig]:
    """The look of video ``index`` and the config it is rendered with (frame size, rate, camera, CRF).

    ``fixed`` appearance: ``(Look(), cfg)`` for every video, whatever ``heldout`` says — a fixed corpus has a
    single style. ``random``: drawn from its own generator (seeded by the corpus seed and the index), so
    the scene's own random choices do not change.
    """
    if cfg.appearance == "fixed":
        return Look(), cfg
    rng = np.random.default_rng([cfg.seed, index, 11])
    look = pool_look(rng, heldout=heldout)
    H, W = FRAME_SIZES[int(rng.integers(0, len(FRAME_SIZES)))]
    vcfg = replace(cfg, height=H, width=W, fps=float(rng.choice(FRAME_RATES)),
                   shake_px=float(rng.uniform(0.0, 2.0)), zoom=float(rng.uniform(0.0, 0.08)),
                   crf=int(rng.integers(18, 33)))
    return look, vcfg


# ---------------------------------------------------------------------------------------------- pictures

def _rotate_rgba(img: np.ndarray, deg: float) -> tuple[np.ndarray, np.ndarray]:
    cv2 = require("cv2", what="video rendering")

    h, w = img.shape[:2]
    M = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    c, s = abs(M[0, 0]), abs(M[0, 1])
    nw, nh = int(h * s + w * c), int(h * c + w * s)
    M[0, 2] += nw / 2 - w / 2
    M[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(img, M, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0)), M


def glyph_available(ch: str) -> bool:
    """Whether Noto Color Emoji draws ``ch`` (a missing glyph renders nothing)."""
    return _render_glyph(ch) is not None


@lru_cache(maxsize=None)
def _render_glyph(ch: str) -> np.ndarray | None:
    if not HAVE_PIL or not FONT_PATH.is_file():
        return None
    font = ImageFont.truetype(str(FONT_PATH), 109)
    im = Image.new("RGBA", (150, 150), (0, 0, 0, 0))
    ImageDraw.Draw(im).text((4, 4), ch, font=font, embedded_color=True)
    a = np.asarray(im).astype(np.float32) / 255.0
    ys, xs = np.nonzero(a[..., 3] > 0.05)
    if len(xs) == 0:
        return None
    return a[ys.min():ys.max() + 1, xs.min():xs.max() + 1].copy()


def _stand_in(inst: str) -> np.ndarray:
    """A stand-in picture when the font lacks the glyph: a coloured body and a neck."""
    cv2 = require("cv2", what="video rendering")

    img = np.zeros((100, 100, 4), np.float32)
    col = {"flute": (0.85, 0.7, 0.3), "accordion": (0.85, 0.2, 0.2)}.get(inst, (0.8, 0.5, 0.2))
    cv2.ellipse(img, (35, 65), (28, 22), -40, 0, 360, (*col, 1.0), -1)
    cv2.line(img, (40, 60), (90, 10), (0.4, 0.25, 0.1, 1.0), 8)
    return img


def _upright(base: np.ndarray, anchors: dict[str, tuple[float, float]]
             ) -> tuple[np.ndarray, dict[str, tuple[float, float]]]:
    """The cello: a violin picture rotated 45° upright (anchors follow), cropped to what it draws."""
    h, w = base.shape[:2]
    rot, M = _rotate_rgba(base, 45.0)
    ys, xs = np.nonzero(rot[..., 3] > 0.05)
    y0, x0 = ys.min(), xs.min()
    rot = rot[y0:ys.max() + 1, x0:xs.max() + 1]
    rh, rw = rot.shape[:2]
    new = {}
    for k, (u, v) in anchors.items():
        x, y = M @ np.array([u * w, v * h, 1.0])
        new[k] = ((x - x0) / rw, (y - y0) / rh)
    return rot, new


@lru_cache(maxsize=None)
def glyph(inst: str) -> tuple[np.ndarray, dict[str, tuple[float, float]]]:
    """RGBA float picture [h, w, 4] of ``inst`` from Noto Color Emoji and its contact anchors (u, v)."""
    base = _render_glyph(GLYPHS[inst])
    if base is None:
        log.warning("Noto Color Emoji lacks the %s glyph; drawing a stand-in shape", inst)
        base = _stand_in(inst)
    anchors = dict(ANCHORS[inst])
    if inst == "cello":  # the violin glyph stood upright
        return _upright(base, anchors)
    return base, anchors


_N = 120  # drawing canvas (px) of drawn and sketched pictures


def _draw_instrument(inst: str, tint: tuple[float, float, float], outline: bool) -> np.ndarray:
    """A line drawing of ``inst`` on a transparent canvas [_N, _N, 4], laid out on its anchors: filled
    shapes in ``tint`` (``drawn``) or dark outlines over a pale fill (``sketch``)."""
    cv2 = require("cv2", what="video rendering")

    img = np.zeros((_N, _N, 4), np.float32)
    body = (*tint, 1.0)
    dark = (*(0.35 * np.asarray(tint)).tolist(), 1.0)
    pale = (*(0.6 + 0.4 * np.asarray(tint)).tolist(), 1.0)
    ink = (0.1, 0.1, 0.12, 1.0)
    fill_col = pale if outline else body
    lw = 2

    def p(u: float, v: float) -> tuple[int, int]:
        return int(round(u * (_N - 1))), int(round(v * (_N - 1)))

    def r(x: float) -> int:
        return max(1, int(round(x * _N)))

    def ellipse(c, axes, ang, col=None):
        cv2.ellipse(img, p(*c), (r(axes[0]), r(axes[1])), ang, 0, 360, col or fill_col, -1, cv2.LINE_AA)
        if outline:
            cv2.ellipse(img, p(*c), (r(axes[0]), r(axes[1])), ang, 0, 360, ink, lw, cv2.LINE_AA)

    def rect(a, b, col=None):
        cv2.rectangle(img, p(*a), p(*b), col or fill_col, -1)
        if outline:
            cv2.rectangle(img, p(*a), p(*b), ink, lw)

    def line(a, b, width, col=None):
        cv2.line(img, p(*a), p(*b), col or (ink if outline else dark), r(width), cv2.LINE_AA)

    def circle(c, rad, col=None):
        cv2.circle(img, p(*c), r(rad), col or fill_col, -1, cv2.LINE_AA)
        if outline:
            cv2.circle(img, p(*c), r(rad), ink, lw, cv2.LINE_AA)

    if inst in ("violin", "cello"):
        line((0.42, 0.55), (0.86, 0.12), 0.05)
        ellipse((0.30, 0.68), (0.24, 0.15), -47)
        ellipse((0.44, 0.54), (0.12, 0.08), -47)
        circle((0.88, 0.10), 0.04, dark)
    elif inst == "guitar":
        line((0.40, 0.58), (0.86, 0.13), 0.06)
        circle((0.26, 0.74), 0.21)
        circle((0.42, 0.57), 0.15)
        circle((0.30, 0.68), 0.05, ink if outline else dark)
        rect((0.82, 0.06), (0.94, 0.18), dark)
    elif inst == "trumpet":
        line((0.18, 0.52), (0.93, 0.10), 0.05, dark if not outline else ink)
        line((0.20, 0.62), (0.70, 0.50), 0.04, dark if not outline else ink)
        rect((0.55, 0.30), (0.70, 0.50))
        cv2.fillPoly(img, [np.array([p(0.02, 0.35), p(0.22, 0.50), p(0.22, 0.62), p(0.02, 0.80)])], fill_col)
        if outline:
            cv2.polylines(img, [np.array([p(0.02, 0.35), p(0.22, 0.50), p(0.22, 0.62), p(0.02, 0.80)])], True, ink, lw)
    elif inst == "saxophone":
        line((0.88, 0.22), (0.52, 0.12), 0.04)
        line((0.50, 0.12), (0.42, 0.78), 0.10, fill_col)
        if outline:
            line((0.50, 0.12), (0.42, 0.78), 0.02)
        ellipse((0.56, 0.84), (0.16, 0.10), -20)
        circle((0.66, 0.72), 0.10)
        for k in range(4):
            circle((0.45, 0.35 + 0.1 * k), 0.02, dark)
    elif inst == "flute":
        line((0.08, 0.92), (0.92, 0.08), 0.06, fill_col)
        if outline:
            line((0.08, 0.92), (0.92, 0.08), 0.015)
        for k in range(-2, 3):
            circle((0.50 + 0.08 * k, 0.50 - 0.08 * k), 0.015, ink)
    elif inst == "drums":
        circle((0.50, 0.76), 0.20)
        for c in ((0.36, 0.42), (0.64, 0.42)):
            rect((c[0] - 0.13, c[1]), (c[0] + 0.13, c[1] + 0.16), dark if not outline else pale)
            ellipse(c, (0.13, 0.05), 0, pale if not outline else (1.0, 1.0, 1.0, 1.0))
    elif inst == "piano":
        rect((0.05, 0.18), (0.95, 0.70))
        rect((0.05, 0.70), (0.95, 0.88), (0.97, 0.97, 0.95, 1.0))
        for k in range(1, 14):
            u = 0.05 + 0.9 * k / 14
            if k % 7 not in (0, 3):
                rect((u - 0.015, 0.70), (u + 0.015, 0.79), ink)
    elif inst == "accordion":
        rect((0.10, 0.30), (0.90, 0.75))
        for k in range(7):
            u = 0.32 + 0.05 * k
            line((u, 0.30), (u, 0.75), 0.012)
        rect((0.80, 0.32), (0.88, 0.73), (0.97, 0.97, 0.95, 1.0))
        for k in range(3):
            for j in range(4):
                circle((0.15 + 0.05 * k, 0.38 + 0.1 * j), 0.015, ink)
    else:  # pragma: no cover - every video instrument has a drawing
        raise ValueError(f"no drawing of '{inst}'")
    return img


@lru_cache(maxsize=256)
def picture(inst: str, look: Look) -> tuple[np.ndarray, dict[str, tuple[float, float]]]:
    """RGBA float picture [h, w, 4] of ``inst`` in ``look`` and its contact anchors (u, v)."""
    if look.pictures == "emoji":
        img, anchors = glyph(inst)
        if look.hue_shift:
            cv2 = require("cv2", what="video rendering")

            rgb = (np.clip(img[..., :3], 0, 1) * 255).astype(np.uint8)
            hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
            hsv[..., 0] = (hsv[..., 0].astype(np.int32) + look.hue_shift) % 180
            img = np.concatenate([cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32) / 255.0, img[..., 3:]], -1)
        return img, anchors
    if look.pictures not in ("drawn", "sketch"):
        raise ValueError(f"look: unknown pictures '{look.pictures}' (known: {', '.join(PICTURES)})")
    base = _draw_instrument("violin" if inst == "cello" else inst, look.tint, look.pictures == "sketch")
    anchors = dict(ANCHORS[inst])
    if inst == "cello":
        return _upright(base, anchors)
    return base, anchors


def paste(canvas: np.ndarray, rgba: np.ndarray, x0: float, y0: float, w: float, h: float) -> None:
    """Alpha-blend picture ``rgba`` [h, w, 4] resized to ``w`` x ``h`` onto ``canvas`` [H, W, 3] at (x0, y0), in
    place (clipped at the borders)."""
    cv2 = require("cv2", what="video rendering")

    iw, ih = max(1, int(round(w))), max(1, int(round(h)))
    g = cv2.resize(rgba, (iw, ih), interpolation=cv2.INTER_AREA)
    xi, yi = int(round(x0)), int(round(y0))
    H, W = canvas.shape[:2]
    a0, b0 = max(0, xi), max(0, yi)
    a1, b1 = min(W, xi + iw), min(H, yi + ih)
    if a1 <= a0 or b1 <= b0:
        return
    patch = g[b0 - yi:b1 - yi, a0 - xi:a1 - xi]
    al = patch[..., 3:4]
    canvas[b0:b1, a0:a1] = canvas[b0:b1, a0:a1] * (1 - al) + patch[..., :3] * al


# ---------------------------------------------------------------------------------------------- backgrounds

def _gradient(rng: np.random.Generator, W: int, H: int) -> np.ndarray:
    cv2 = require("cv2", what="video rendering")

    c0, c1 = rng.uniform(0.25, 0.85, 3), rng.uniform(0.25, 0.85, 3)
    g = np.linspace(0, 1, H)[:, None, None]
    bg = (c0 * (1 - g) + c1 * g) * np.ones((H, W, 3))
    for _ in range(int(rng.integers(8, 20))):
        col = tuple(float(x) for x in rng.uniform(0.1, 0.9, 3))
        kind = rng.integers(0, 3)
        x, y = int(rng.integers(0, W)), int(rng.integers(0, H))
        if kind == 0:
            cv2.rectangle(bg, (x, y), (x + int(rng.integers(5, 50)), y + int(rng.integers(5, 40))), col, -1)
        elif kind == 1:
            cv2.circle(bg, (x, y), int(rng.integers(3, 22)), col, -1)
        else:
            cv2.line(bg, (x, y), (int(rng.integers(0, W)), int(rng.integers(0, H))), col, int(rng.integers(1, 4)))
    return bg


def _stripes(rng: np.random.Generator, W: int, H: int) -> np.ndarray:
    c0, c1 = rng.uniform(0.2, 0.9, 3), rng.uniform(0.2, 0.9, 3)
    period = float(rng.uniform(8, 40))
    ang = float(rng.choice([0.0, 0.5 * math.pi, 0.25 * math.pi, 0.75 * math.pi]))
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    phase = (xx * math.cos(ang) + yy * math.sin(ang)) / period
    m = (np.floor(phase) % 2)[..., None]
    return c0 * (1 - m) + c1 * m


def _noise(rng: np.random.Generator, W: int, H: int) -> np.ndarray:
    cv2 = require("cv2", what="video rendering")

    cells = int(rng.integers(4, 16))
    small = rng.uniform(0, 1, (cells, max(2, cells * W // H), 3)).astype(np.float32)
    tex = cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC)
    base = rng.uniform(0.2, 0.8, 3)
    return np.clip(base + 0.35 * (tex - 0.5), 0, 1)


def _room(rng: np.random.Generator, W: int, H: int) -> np.ndarray:
    cv2 = require("cv2", what="video rendering")

    wall, floor = rng.uniform(0.3, 0.9, 3), rng.uniform(0.15, 0.7, 3)
    horizon = int(H * float(rng.uniform(0.55, 0.75)))
    bg = np.empty((H, W, 3))
    bg[:horizon], bg[horizon:] = wall, floor
    for _ in range(int(rng.integers(1, 4))):  # windows, pictures, doors
        x, y = int(rng.integers(0, W - 20)), int(rng.integers(0, max(1, horizon - 30)))
        w, h = int(rng.integers(15, 60)), int(rng.integers(15, 50))
        cv2.rectangle(bg, (x, y), (x + w, min(horizon, y + h)), tuple(float(c) for c in rng.uniform(0.1, 0.95, 3)), -1)
    return bg


def _tiles(rng: np.random.Generator, W: int, H: int) -> np.ndarray:
    c0, c1 = rng.uniform(0.2, 0.9, 3), rng.uniform(0.2, 0.9, 3)
    grout = rng.uniform(0.05, 0.3, 3)
    t = int(rng.integers(12, 33))
    yy, xx = np.mgrid[0:H, 0:W]
    m = (((xx // t) + (yy // t)) % 2)[..., None]
    bg = c0 * (1 - m) + c1 * m
    edge = ((xx % t) < 2) | ((yy % t) < 2)
    bg[edge] = grout
    return bg


_BACKGROUNDS = {"gradient": _gradient, "stripes": _stripes, "noise": _noise, "room": _room, "tiles": _tiles}


def background(rng: np.random.Generator, W: int, H: int, kind: str = "gradient") -> np.ndarray:
    """A static background float32 [H, W, 3] in [0, 1] of family ``kind``, with a little pixel noise."""
    if kind not in _BACKGROUNDS:
        raise ValueError(f"look: unknown background '{kind}' (known: {', '.join(BACKGROUNDS)})")
    bg = _BACKGROUNDS[kind](rng, W, H)
    bg = bg + rng.normal(0, 0.02, bg.shape)
    return np.clip(bg, 0, 1).astype(np.float32)


# ---------------------------------------------------------------------------------------------- players

#: Skin colours of the players (RGB in [0, 1]).
SKINS = ((0.95, 0.8, 0.65), (0.8, 0.6, 0.45), (0.55, 0.38, 0.25), (0.4, 0.27, 0.18))


def draw_player(img: np.ndarray, head, size: float, shirt, skin, body: str = "block") -> None:
    """The body and head of a player whose head is at ``head`` (instrument size ``size`` px), in place."""
    cv2 = require("cv2", what="video rendering")

    u = size / 100.0

    def pt(p) -> tuple[int, int]:
        return int(round(float(p[0]))), int(round(float(p[1])))

    head = np.asarray(head, dtype=np.float64)
    if body == "block":
        cv2.rectangle(img, pt(head + np.array([-10 * u, 10 * u])), pt(head + np.array([10 * u, 45 * u])), shirt, -1)
        cv2.circle(img, pt(head), max(3, int(9 * u)), skin, -1)
    elif body == "round":
        cv2.ellipse(img, pt(head + np.array([0, 28 * u])), (max(3, int(13 * u)), max(4, int(19 * u))), 0, 0, 360,
                    shirt, -1, cv2.LINE_AA)
        cv2.circle(img, pt(head), max(3, int(11 * u)), skin, -1, cv2.LINE_AA)
    elif body == "stick":
        cv2.line(img, pt(head + np.array([0, 9 * u])), pt(head + np.array([0, 45 * u])), shirt, max(2, int(3 * u)),
                 cv2.LINE_AA)
        cv2.circle(img, pt(head), max(3, int(9 * u)), skin, max(1, int(2 * u)), cv2.LINE_AA)
    else:
        raise ValueError(f"look: unknown body '{body}' (known: {', '.join(BODIES)})")
