"""Rendered instrument stills: the embedded stand-in for the thesis' ImageNet pictures of instruments.

The thesis initialises its object model from ImageNet (VGG_CNN_M_2048) and scores it on ImageNet-Instrument,
pictures of instruments with bounding boxes (§4.3.2, Table 4.7: hit rate 0.848 with pre-training, 0.659 from
scratch). Neither can be downloaded here. Trained from scratch on video frames only, where every instrument
sits in front of the player who plays it in the same pose, the object model may learn the player as much as
the instrument (its map lights the piano player's arms rather than the keys).

A still is a picture of a few instruments **apart from their players**:

* a background of the training pool (:data:`~clip2frame.video.rendering.appearance.TRAIN_POOL`);
* 0-3 different instruments, each in its own look drawn from the training pool (emoji, optionally
  hue-shifted, or drawn in a random colour), size 40-110 px (times the instrument's size factor), mirrored
  half of the time, anywhere in the frame;
* 0-3 players (bodies of the training pool, random clothes and skin) with arms in random poses, some
  standing behind an instrument as a player would, some alone — so a player's pose no longer tells the
  instrument;
* tags = the instruments in the picture; boxes = where they are (for the hit rate).

The held-out style (sketches, tiles, stick players) never appears in a still. Everything is drawn from the
``rng`` given, so a still is a function of its seed.

Measured (RESULTS.md, "Our own object pre-training", 3 seeds): 2,000 stills among the object model's training
frames double its hit rate on stills but move its peak away from the playing hands: A·O less precise and
A·O·S lower (issue #14's targets; A alone inconclusive); ``VideoTrainConfig.stills`` is 0 by default.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...extras import require
from ...tags import VIDEO_INSTRUMENTS
from .appearance import SKINS, background, draw_player, paste, picture, pool_look
from .scene import SIZE_FACTOR

#: Instrument long side (px) before the per-instrument size factor.
SIZE_RANGE = (40.0, 110.0)


@dataclass
class Still:
    """One rendered still: RGB uint8 [H, W, 3], multi-hot tags [K] over VIDEO_INSTRUMENTS, boxes per tag."""

    image: np.ndarray
    tags: np.ndarray
    boxes: dict[str, list[list[float]]]


def _body(img: np.ndarray, rng: np.random.Generator, head: np.ndarray, size: float, body: str
          ) -> tuple[float, float, float]:
    """A player's body and head (head at ``head``, instrument size ``size`` px) in random clothes; returns
    the skin colour for the arms."""
    shirt = tuple(float(x) for x in rng.uniform(0.1, 0.9, 3))
    skin = SKINS[int(rng.integers(0, len(SKINS)))]
    draw_player(img, head, size, shirt, skin, body)
    return skin


def _arms(img: np.ndarray, rng: np.random.Generator, head: np.ndarray, size: float, skin, limb_width: float,
          reach: tuple[float, float, float, float] | None) -> None:
    """Both arms of the player whose head is at ``head``, each ending at a random point (inside ``reach``
    when given: the box of the instrument the player stands behind), drawn as the scenes draw arms."""
    cv2 = require("cv2", what="instrument stills")

    u = size / 100.0
    thick, hand = max(2, int(3 * u * limb_width)), max(2, int(4 * u * limb_width))
    for side in (-1, 1):
        shoulder = head + np.array([side * 8 * u, 14 * u])
        if reach is not None:
            end = np.array([rng.uniform(reach[0], reach[2]), rng.uniform(reach[1], reach[3])])
        else:
            ang = rng.uniform(0, 2 * np.pi)
            end = shoulder + rng.uniform(15, 45) * u * np.array([np.cos(ang), np.sin(ang)])
        a = (int(round(shoulder[0])), int(round(shoulder[1])))
        b = (int(round(end[0])), int(round(end[1])))
        cv2.line(img, a, b, skin, thick, lineType=cv2.LINE_AA)
        cv2.circle(img, b, hand, skin, -1, lineType=cv2.LINE_AA)


def render_still(rng: np.random.Generator, height: int = 192, width: int = 256, *,
                 limb_width: float = 3.0) -> Still:
    """One still of ``height`` x ``width`` pixels (see the module docstring), drawn from ``rng``."""
    scene_look = pool_look(rng)
    img = background(rng, width, height, scene_look.background).astype(np.float64)
    n_inst = int(rng.choice(4, p=[0.1, 0.4, 0.3, 0.2]))
    insts = [str(x) for x in rng.choice(VIDEO_INSTRUMENTS, size=n_inst, replace=False)]
    boxes: dict[str, list[list[float]]] = {}
    behind: list[tuple[np.ndarray, float, tuple[float, float, float, float]]] = []
    placed = []
    for inst in insts:
        look = pool_look(rng)
        g, _ = picture(inst, look)
        if rng.random() < 0.5:
            g = g[:, ::-1]
        size = min(float(rng.uniform(*SIZE_RANGE)) * SIZE_FACTOR.get(inst, 1.0), 0.9 * min(height, width))
        gh, gw = g.shape[:2]
        s = size / max(gh, gw)
        w, h = gw * s, gh * s
        x0, y0 = float(rng.uniform(0, width - w)), float(rng.uniform(0, height - h))
        if rng.random() < 0.5:  # a player behind it, reaching over it
            behind.append((np.array([x0 + w / 2, y0 - 9 * size / 100.0]), size, (x0, y0, x0 + w, y0 + h)))
        placed.append((g, x0, y0, w, h))
        boxes.setdefault(inst, []).append([round(x0, 2), round(y0, 2), round(min(width - 1.0, x0 + w), 2),
                                           round(min(height - 1.0, y0 + h), 2)])
    body = scene_look.body
    skins = [_body(img, rng, head, size, body) for head, size, _ in behind]  # bodies behind the instruments
    for g, x0, y0, w, h in placed:
        paste(img, g, x0, y0, w, h)
    for (head, size, box), skin in zip(behind, skins):  # arms in front, as in the scenes
        _arms(img, rng, head, size, skin, limb_width, box)
    for _ in range(int(rng.integers(0, 3))):  # players without an instrument, anywhere
        size = float(rng.uniform(*SIZE_RANGE))
        head = np.array([rng.uniform(0, width), rng.uniform(0, height)])
        _arms(img, rng, head, size, _body(img, rng, head, size, body), limb_width, None)
    tags = np.array([1.0 if k in boxes else 0.0 for k in VIDEO_INSTRUMENTS], np.float32)
    return Still((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8), tags, boxes)


def render_stills(seed: int | list[int], n: int, height: int = 192, width: int = 256, *,
                  limb_width: float = 3.0) -> list[Still]:
    """``n`` stills from one generator seeded with ``seed`` (an int or a list of ints)."""
    rng = np.random.default_rng(seed)
    return [render_still(rng, height, width, limb_width=limb_width) for _ in range(n)]
