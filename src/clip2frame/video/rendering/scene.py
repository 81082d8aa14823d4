"""Scenes of the embedded audio-visual corpus and their animation (see :mod:`clip2frame.video.rendering`).

:class:`~.settings.VideoSynthConfig` (every knob of the corpus), the players' sources and notes (:class:`Source`),
:func:`make_scene` (one seeded scene) and :func:`render_frame` (the picture at time t and its truth: playing
instruments, contact key points, boxes). How things look (instrument pictures, backgrounds, players) is
:mod:`clip2frame.video.rendering.appearance`.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ...data.synth.instruments import INSTRUMENTS
from ...extras import require
from ...tags import VIDEO_INSTRUMENTS
from .appearance import SKINS, Look, background, draw_player, paste, picture
from .settings import VideoSynthConfig

log = logging.getLogger(__name__)

#: The music tag whose General MIDI programs play each video instrument (the same name but for the guitar).
MUSIC_TAG_OF = {v: {"guitar": "acoustic guitar"}.get(v, v) for v in VIDEO_INSTRUMENTS}
#: The GM program of each video instrument: its music tag's first classic program in the one GM table
#: (:mod:`clip2frame.data.synth.instruments`).
GM_PROGRAMS = {v: INSTRUMENTS[MUSIC_TAG_OF[v]].programs[0] for v in VIDEO_INSTRUMENTS}
PITCH_RANGES = {"accordion": (55, 79), "cello": (36, 60), "drums": (36, 50), "flute": (72, 96),
                "guitar": (45, 69), "piano": (48, 84), "saxophone": (49, 75), "trumpet": (55, 79),
                "violin": (60, 88)}
DRUM_PITCHES = (36, 38, 41, 45, 38, 42)
# Note durations (s) while playing, per instrument.
NOTE_DUR = {"accordion": (0.3, 0.7), "cello": (0.5, 1.1), "drums": (0.15, 0.35), "flute": (0.3, 0.7),
            "guitar": (0.3, 0.6), "piano": (0.15, 0.45), "saxophone": (0.3, 0.7), "trumpet": (0.3, 0.6),
            "violin": (0.35, 0.9)}
SIZE_FACTOR = {"cello": 1.4, "piano": 1.1, "drums": 1.05, "accordion": 1.0}

# Direction of the strings / tube (unit-ish vector in u, v) for bows and fingers.
AXIS = {"violin": (0.55, -0.6), "guitar": (0.6, -0.6), "flute": (0.7, -0.7), "saxophone": (0.1, 1.0),
        "trumpet": (1.0, -0.2)}


# ---------------------------------------------------------------------------------------------- scene

@dataclass
class Source:
    """One instrument in a scene: visible (with a player) or off-screen, played or idle."""

    inst: str
    onscreen: bool
    played: bool
    notes: list[tuple[float, float, int]] = field(default_factory=list)
    cx: float = 0.0
    cy: float = 0.0
    size: float = 0.0  # long side of the glyph, px
    skin: tuple[float, float, float] = (0.9, 0.7, 0.55)
    shirt: tuple[float, float, float] = (0.2, 0.3, 0.7)
    sway_phase: float = 0.0
    sway_period: float = 4.0
    waves: list[tuple[float, float]] = field(default_factory=list)  # idle players' waving intervals

    # -------- timing
    def note_at(self, t: float) -> int | None:
        """Index of the note sounding at ``t`` (s), or None between notes."""
        for i, (on, off, _) in enumerate(self.notes):
            if on <= t < off:
                return i
        return None

    def clock(self, t: float) -> float:
        """Played clock: seconds of sound up to ``t``."""
        return float(sum(max(0.0, min(off, t) - on) for on, off, _ in self.notes if on < t))

    def last_onset(self, t: float) -> tuple[int, float] | None:
        """``(index, onset_s)`` of the last note started at or before ``t`` (s), or None before the first."""
        best = None
        for i, (on, _, _) in enumerate(self.notes):
            if on <= t:
                best = (i, on)
        return best

    def sound_fraction(self, a: float, b: float) -> float:
        """Fraction of ``[a, b)`` (s) during which the source sounds, in [0, 1]."""
        cover = sum(max(0.0, min(off, b) - max(on, a)) for on, off, _ in self.notes)
        return float(min(1.0, cover / (b - a)))


def _phrases(rng: np.random.Generator, dur: float) -> list[tuple[float, float]]:
    """Alternating playing segments (1.5–4 s) and rests (1–3 s); at least one of each."""
    segs = []
    t = float(rng.uniform(0.0, 2.0))
    while t < dur - 0.8:
        L = float(rng.uniform(1.5, 4.0))
        segs.append((t, min(dur, t + L)))
        t += L + float(rng.uniform(1.0, 3.0))
    if not segs:
        segs = [(0.5, min(dur, 2.5))]
    return segs


def _notes(rng: np.random.Generator, inst: str, dur: float) -> list[tuple[float, float, int]]:
    lo, hi = PITCH_RANGES[inst]
    dmin, dmax = NOTE_DUR[inst]
    out = []
    for a, b in _phrases(rng, dur):
        t = a
        pitch = int(rng.integers(lo, hi))
        while t < b - 0.1:
            d = float(rng.uniform(dmin, dmax))
            off = min(b, t + d)
            if inst == "drums":
                p = int(rng.choice(DRUM_PITCHES))
                out.append((round(t, 4), round(min(b, t + 0.2), 4), p))
            else:
                pitch = int(np.clip(pitch + rng.integers(-4, 5), lo, hi))
                out.append((round(t, 4), round(off, 4), pitch))
            t = off
    return out


def _tri(x: float) -> float:
    """Triangle wave in [-1, 1] with period 1."""
    f = x - math.floor(x)
    return 4 * f - 1 if f < 0.5 else 3 - 4 * f


@dataclass
class Scene:
    """One video's scene: its sound sources (players), background [H, W, 3], moving distractors, camera
    shake, duration (s) and look.
    """

    sources: list[Source]
    background: np.ndarray
    walkers: list[dict]
    swingers: list[dict]
    shake: dict
    duration_s: float
    look: Look = Look()

    @property
    def tags(self) -> list[str]:
        """The video's tags: instruments on screen that play, in ``VIDEO_INSTRUMENTS`` order."""
        return sorted({s.inst for s in self.sources if s.onscreen and s.played},
                      key=VIDEO_INSTRUMENTS.index)


def make_scene(cfg: VideoSynthConfig, index: int, main: str, look: Look = Look()) -> Scene:
    """The random scene of video ``index`` (main instrument ``main``) in ``look``, deterministic from the seed."""
    rng = np.random.default_rng([cfg.seed, index, 7])
    W, H, dur = cfg.width, cfg.height, cfg.duration_s
    others = [i for i in cfg.instruments if i != main]
    rng.shuffle(others)
    visible: list[Source] = [Source(main, True, True)]
    if rng.random() < cfg.p_second_played:
        visible.append(Source(others.pop(), True, True))
    if rng.random() < cfg.p_idle:
        visible.append(Source(others.pop(), True, False))
    sources = list(visible)
    if rng.random() < cfg.p_offscreen and others:
        sources.append(Source(others.pop(), False, True))
    # placement: non-overlapping boxes, scale varied
    placed: list[tuple[float, float, float, float]] = []
    for s in visible:
        for attempt in range(200):
            size = float(rng.uniform(52, 92)) * look.scale * SIZE_FACTOR.get(s.inst, 1.0) * (0.97 ** (attempt // 20))
            size = min(size, H - 40)
            cx = float(rng.uniform(size / 2 + 4, W - size / 2 - 4))
            cy = float(rng.uniform(size / 2 + 30, H - size / 2 - 4))
            box = (cx - size / 2 - 6, cy - size / 2 - 30, cx + size / 2 + 6, cy + size / 2 + 4)
            if all(box[2] < b[0] or box[0] > b[2] or box[3] < b[1] or box[1] > b[3] for b in placed) \
                    or attempt == 199:
                placed.append(box)
                s.cx, s.cy, s.size = cx, cy, size
                break
    for s in sources:
        skin = rng.choice(SKINS)
        s.skin = (float(skin[0]), float(skin[1]), float(skin[2]))
        shirt = rng.uniform(0.1, 0.9, 3)
        s.shirt = (float(shirt[0]), float(shirt[1]), float(shirt[2]))
        s.sway_phase = float(rng.uniform(0, 2 * np.pi))
        s.sway_period = float(rng.uniform(3, 6))
        if s.played:
            s.notes = _notes(rng, s.inst, dur)
        elif rng.random() < 0.7:
            t = float(rng.uniform(0, max(0.0, dur - 2)))  # short clips: waving may start at 0
            s.waves = [(t, t + float(rng.uniform(1.0, 3.0)))]
    walkers = []
    if rng.random() < cfg.p_walker:
        direction = 1 if rng.random() < 0.5 else -1
        walkers.append({"t0": float(rng.uniform(0, dur / 2)), "speed": float(rng.uniform(20, 45)) * direction,
                        "y": float(rng.uniform(H * 0.45, H - 30)), "h": float(rng.uniform(40, 70)),
                        "col": tuple(float(x) for x in rng.uniform(0.1, 0.9, 3))})
    swingers = []
    if rng.random() < cfg.p_swinger:
        swingers.append({"x": float(rng.uniform(20, W - 20)), "y": float(rng.uniform(10, 40)),
                         "len": float(rng.uniform(20, 40)), "freq": float(rng.uniform(0.3, 1.2)),
                         "col": tuple(float(x) for x in rng.uniform(0.1, 0.9, 3))})
    shake = {"phase": rng.uniform(0, 2 * np.pi, 6).tolist(), "freq": rng.uniform(0.3, 2.0, 6).tolist(),
             "on": bool(rng.random() < 0.6)}
    return Scene(sources, background(rng, W, H, look.background), walkers, swingers, shake, dur, look)


# ---------------------------------------------------------------------------------------------- drawing

def _camera(scene: Scene, cfg: VideoSynthConfig, t: float) -> np.ndarray:
    """2×3 affine of the (shaking, zooming) camera at time t."""
    W, H = cfg.width, cfg.height
    if not scene.shake["on"]:
        return np.array([[1.0, 0, 0], [0, 1.0, 0]])
    ph, fr = scene.shake["phase"], scene.shake["freq"]
    dx = cfg.shake_px * (math.sin(2 * math.pi * fr[0] * t + ph[0]) + 0.5 * math.sin(2 * math.pi * fr[1] * 3 * t + ph[1]))
    dy = cfg.shake_px * (math.sin(2 * math.pi * fr[2] * t + ph[2]) + 0.5 * math.sin(2 * math.pi * fr[3] * 3 * t + ph[3]))
    z = 1.0 + cfg.zoom * 0.5 * (1 + math.sin(2 * math.pi * fr[4] * 0.1 * t + ph[4]))
    cx, cy = W / 2, H / 2
    return np.array([[z, 0, cx - z * cx + dx], [0, z, cy - z * cy + dy]])


def _apply(M: np.ndarray, pts: npt.ArrayLike) -> np.ndarray:
    pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    return pts @ M[:, :2].T + M[:, 2]


@dataclass
class SourceState:
    """Where an on-screen source and its contact parts are at one instant (scene coordinates)."""

    box: tuple[float, float, float, float]
    sounding: bool
    keypoints: list[tuple[float, float]]
    draw: list[tuple]  # drawing commands after the glyph


@dataclass
class _Pose:
    """What the playing motions of one source at one time are computed from (see :func:`_state`)."""

    s: Source
    t: float
    x0: float
    y0: float
    w: float
    h: float
    anchors: dict
    u_px: float
    m_px: float
    limb: float
    clock: float
    pitch: int | None
    prel: float
    sounding: bool

    def P(self, name: str) -> np.ndarray:
        u, v = self.anchors[name]
        return np.array([self.x0 + u * self.w, self.y0 + v * self.h])

    def th(self, units: float, least: int) -> int:
        """Thickness (px) of a moving part ``units`` instrument-percent wide, scaled by ``limb``."""
        return max(least, int(units * self.u_px * self.limb))


def _pose_violin(pose: _Pose, draw: list[tuple], kps: list[np.ndarray]
                 ) -> tuple[list, list[np.ndarray]]:
    """Violin and cello: the bow across the strings, a finger on the neck (its place from the pitch).
    Returns (hands, contact points); appends to ``draw``."""
    s, w, h, u_px, m_px, clock, prel, P = pose.s, pose.w, pose.h, pose.u_px, pose.m_px, pose.clock, pose.prel, pose.P
    th = pose.th
    ax = np.array(AXIS["violin"]) * [w, h]
    if s.inst == "cello":
        ax = np.array([0.1, -1.0]) * [w, h]
    ax = ax / np.linalg.norm(ax)
    perp = np.array([ax[1], -ax[0]])
    contact = P("bow")
    off = 22 * m_px * _tri(clock / 1.2)
    bc = contact + perp * off
    draw.append(("line", bc - perp * 34 * u_px, bc + perp * 34 * u_px, (0.35, 0.2, 0.1), th(2, 1)))
    finger = P("finger") + ax * (12 * u_px) * (prel - 0.5) * 2 + ax * 1.5 * m_px * math.sin(2 * math.pi * 6 * clock)
    hands = [bc + perp * 20 * u_px, finger]
    kps = [contact, finger]
    return hands, kps


def _pose_guitar(pose: _Pose, draw: list[tuple], kps: list[np.ndarray]
                 ) -> tuple[list, list[np.ndarray]]:
    """Guitar: the strumming hand and a finger on the neck.
    Returns (hands, contact points); appends to ``draw``."""
    w, h, u_px, m_px, clock, prel, P = pose.w, pose.h, pose.u_px, pose.m_px, pose.clock, pose.prel, pose.P
    strum = P("strum") + np.array([0, 1.0]) * 12 * m_px * _tri(clock / 0.5)
    ax = np.array(AXIS["guitar"]) * [w, h]
    ax = ax / np.linalg.norm(ax)
    finger = P("finger") + ax * (14 * u_px) * (prel - 0.5) * 2
    hands = [strum, finger]
    kps = [strum, finger]
    return hands, kps


def _pose_drums(pose: _Pose, draw: list[tuple], kps: list[np.ndarray]
                 ) -> tuple[list, list[np.ndarray]]:
    """Drum: two sticks, hitting on alternate onsets.
    Returns (hands, contact points); appends to ``draw``."""
    s, t, u_px, m_px, P, th = pose.s, pose.t, pose.u_px, pose.m_px, pose.P, pose.th
    hands, tips = [], []
    lo_ = s.last_onset(t) if s.played else None
    for k, name in enumerate(("skin_l", "skin_r")):
        # stick k hits on alternate onsets, then rises over 0.12 s and stays up
        last_hit = None
        if lo_ is not None:
            for i in range(lo_[0], -1, -1):
                if i % 2 == k:
                    last_hit = s.notes[i][0]
                    break
        lift = 1.0 if last_hit is None else min(1.0, (t - last_hit) / 0.12)
        tip = P(name) + np.array([0, -1.0]) * 16 * m_px * lift
        hand = tip + np.array([(-1 if k == 0 else 1) * 22 * u_px, -14 * u_px])
        draw.append(("line", hand, tip, (0.9, 0.85, 0.6), th(3, 2)))
        hands.append(hand)
        tips.append(tip)
    kps = tips
    return hands, kps


def _pose_piano(pose: _Pose, draw: list[tuple], kps: list[np.ndarray]
                 ) -> tuple[list, list[np.ndarray]]:
    """Piano: two hands, the fingers pressed by the pitch.
    Returns (hands, contact points); appends to ``draw``."""
    s, u_px, m_px, prel, pitch, sounding = pose.s, pose.u_px, pose.m_px, pose.prel, pose.pitch, pose.sounding
    P, th = pose.P, pose.th
    hands = []
    for k, name in enumerate(("keys_l", "keys_r")):
        hx = P(name) + np.array([(prel - 0.5) * 14 * u_px, 0])
        hands.append(hx - np.array([0, 8 * u_px]))
        for f in range(3):
            pressed = sounding and pitch is not None and (pitch + k) % 3 == f
            fp = hx + np.array([(f - 1) * 6 * u_px, (4 * m_px if pressed else -2 * m_px)])
            draw.append(("circle", fp, th(3, 2), s.skin))
            if pressed:
                kps.append(fp)
    if not kps:
        kps = [hands[0] + np.array([0, 8 * u_px]), hands[1] + np.array([0, 8 * u_px])]
    return hands, kps


def _pose_accordion(pose: _Pose, draw: list[tuple], kps: list[np.ndarray]
                 ) -> tuple[list, list[np.ndarray]]:
    """Accordion: both hands on the bellows, the right one trembling.
    Returns (hands, contact points); appends to ``draw``."""
    m_px, clock, P = pose.m_px, pose.clock, pose.P
    hands = [P("hand_l"), P("hand_r")]
    trem = 2 * m_px * math.sin(2 * math.pi * 5 * clock)
    hands[1] = hands[1] + np.array([0, trem])
    kps = [hands[0], hands[1], P("centre")]
    return hands, kps


def _pose_wind(pose: _Pose, draw: list[tuple], kps: list[np.ndarray]
                 ) -> tuple[list, list[np.ndarray]]:
    """Flute, saxophone, trumpet: fingers on keys (pattern from the pitch), mouth at the mouthpiece.
    Returns (hands, contact points); appends to ``draw``."""
    s, t, w, h, u_px, m_px, pitch = pose.s, pose.t, pose.w, pose.h, pose.u_px, pose.m_px, pose.pitch
    sounding, P, th = pose.sounding, pose.P, pose.th
    base = s.inst  # a wind instrument: its own picture
    name = "valves" if base == "trumpet" else ("keys" if base == "saxophone" else "holes")
    ax = np.array(AXIS[base]) * [w, h]
    ax = ax / np.linalg.norm(ax)
    perp = np.array([ax[1], -ax[0]])
    centre = P(name)
    hands = []
    for f in range(3):
        down = sounding and pitch is not None and ((pitch >> f) & 1 or (s.note_at(t) or 0) % 3 == f)
        fp = centre + ax * (f - 1) * 9 * u_px + perp * (5 * m_px if down else -3 * m_px)
        draw.append(("circle", fp, th(3.5, 2), s.skin))
        hands.append(fp)
    mouth = P("mouth")
    kps = [centre, mouth]
    draw.append(("circle", mouth, th(3, 2), (0.8, 0.3, 0.3)))
    return hands, kps


_POSES = {"violin": _pose_violin, "guitar": _pose_guitar, "drums": _pose_drums, "piano": _pose_piano,
          "accordion": _pose_accordion}


def _state(s: Source, t: float, gain: float = 1.0, look: Look = Look(), limb: float = 1.0) -> SourceState:
    """Positions of the instrument and its contact parts at time t (playing motions are functions of
    the played clock or of note onsets, so they stop when the instrument is silent)."""
    g, anchors = picture(s.inst, look)
    gh, gw = g.shape[:2]
    scale = s.size / max(gh, gw)
    w, h = gw * scale, gh * scale
    sway = 1.5 * math.sin(2 * math.pi * t / s.sway_period + s.sway_phase)
    cx, cy = s.cx + sway, s.cy
    clock = s.clock(t) if s.played else 0.0
    ni = s.note_at(t) if s.played else None
    sounding = ni is not None
    stretch = 1.0
    if s.inst == "accordion" and s.played:
        stretch = 1.0 + 0.12 * gain * _tri(clock / 1.6)  # bellows in and out while sounding
    w *= stretch
    x0, y0 = cx - w / 2, cy - h / 2

    u_px = s.size / 100.0
    m_px = u_px * gain  # playing-motion unit

    draw: list[tuple] = []
    kps: list[np.ndarray] = []
    last = s.last_onset(t) if s.played else None
    pitch = s.notes[last[0]][2] if last else None
    lo, hi = PITCH_RANGES[s.inst]
    prel = 0.5 if pitch is None else (pitch - lo) / max(1, hi - lo)
    base = "violin" if s.inst == "cello" else s.inst
    pose = _Pose(s, t, x0, y0, w, h, anchors, u_px, m_px, limb, clock, pitch, prel, sounding)
    th = pose.th
    hands, kps = _POSES.get(base, _pose_wind)(pose, draw, kps)
    # idle players wave a hand (non-playing motion, away from the contact points)
    head = np.array([cx, y0 - 9 * u_px])
    if not s.played and any(a <= t < b for a, b in s.waves):
        wave = np.array([cx + w / 2 + 8 * u_px, y0 - 6 * u_px + 10 * u_px * math.sin(2 * math.pi * 2.0 * t)])
        hands = [wave] + list(hands[1:]) if len(hands) > 1 else [wave]
    body_draw = [("body", head, s.size, s.shirt, s.skin)]
    shoulders = [head + np.array([-8 * u_px, 14 * u_px]), head + np.array([8 * u_px, 14 * u_px])]
    arm_draw: list[tuple] = []
    for k, hpt in enumerate(hands[:2]):
        arm_draw.append(("line", shoulders[k % 2], hpt, s.skin, th(3, 2)))
        arm_draw.append(("circle", hpt, th(4, 2), s.skin))
    return SourceState((x0, y0, x0 + w, y0 + h), sounding,
                       [(float(k[0]), float(k[1])) for k in kps] if sounding else [],
                       body_draw + [("glyph", s.inst, (x0, y0, w, h))] + arm_draw + draw)


def _pt(p) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


def render_frame(scene: Scene, cfg: VideoSynthConfig, t: float) -> tuple[np.ndarray, dict]:
    """RGB uint8 [H, W, 3] of the scene at time t, and its truth (camera applied)."""
    cv2 = require("cv2", what="video rendering")

    img = scene.background.copy()
    for wk in scene.walkers:
        x = (wk["t0"] * 0 + (t - wk["t0"]) * wk["speed"]) % (cfg.width + 60) - 30
        if wk["speed"] < 0:
            x = cfg.width - ((t - wk["t0"]) * -wk["speed"]) % (cfg.width + 60) + 30
        y, hh, col = wk["y"], wk["h"], wk["col"]
        swing = math.sin(2 * math.pi * 1.6 * t) * hh * 0.2
        hip = (x, y)
        cv2.circle(img, _pt((x, y - hh * 0.75)), max(2, int(hh * 0.1)), col, -1)
        cv2.line(img, _pt((x, y - hh * 0.65)), _pt(hip), col, 3)
        cv2.line(img, _pt(hip), _pt((x + swing, y + hh * 0.3)), col, 3)
        cv2.line(img, _pt(hip), _pt((x - swing, y + hh * 0.3)), col, 3)
        cv2.line(img, _pt((x, y - hh * 0.5)), _pt((x - swing, y - hh * 0.2)), col, 2)
    for sw in scene.swingers:
        ang = 0.8 * math.sin(2 * math.pi * sw["freq"] * t)
        end = (sw["x"] + sw["len"] * math.sin(ang), sw["y"] + sw["len"] * math.cos(ang))
        cv2.line(img, _pt((sw["x"], sw["y"])), _pt(end), sw["col"], 2)
        cv2.circle(img, _pt(end), 6, sw["col"], -1)
    truth: dict[str, Any] = {"boxes": {}, "keypoints": {}, "playing": []}
    states = [(s, _state(s, t, cfg.motion_gain, scene.look, cfg.limb_width)) for s in scene.sources if s.onscreen]
    for s, st in states:
        for cmd in st.draw:
            if cmd[0] == "body":
                _, head, size, shirt, skin = cmd
                draw_player(img, head, size, shirt, skin, scene.look.body)
            elif cmd[0] == "glyph":
                g, _ = picture(cmd[1], scene.look)
                paste(img, g, *cmd[2])
            elif cmd[0] == "line":
                cv2.line(img, _pt(cmd[1]), _pt(cmd[2]), cmd[3], cmd[4], lineType=cv2.LINE_AA)
            elif cmd[0] == "circle":
                cv2.circle(img, _pt(cmd[1]), cmd[2], cmd[3], -1, lineType=cv2.LINE_AA)
    M = _camera(scene, cfg, t)
    img = cv2.warpAffine(img, M, (cfg.width, cfg.height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    for s, st in states:
        x0, y0, x1, y1 = st.box
        c = _apply(M, [[x0, y0], [x1, y0], [x0, y1], [x1, y1]])
        box = [float(max(0, c[:, 0].min())), float(max(0, c[:, 1].min())),
               float(min(cfg.width - 1, c[:, 0].max())), float(min(cfg.height - 1, c[:, 1].max()))]
        truth["boxes"].setdefault(s.inst, []).append([round(v, 2) for v in box])
        if st.sounding:
            truth["playing"].append(s.inst)
            pts = _apply(M, st.keypoints) if st.keypoints else np.zeros((0, 2))
            kp = [[round(float(x), 2), round(float(y), 2)] for x, y in pts
                  if 0 <= x < cfg.width and 0 <= y < cfg.height]
            truth["keypoints"].setdefault(s.inst, []).extend(kp)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8), truth


# ---------------------------------------------------------------------------------------------- audio
