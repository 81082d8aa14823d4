"""The issue-#24 axes of ``bench_generalisation.py``: held-out arrangement/production, real recordings,
non-music. Corpora from ``clip2frame synth outside|real|nonmusic`` (evaluation only)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

MUSICNN_FIRE = 0.5    # musicnn has no thresholds of its own: a shared tag "fires" at probability >= 0.5


def outside_splits(man) -> dict:
    """``{axis name: sub-manifest}`` of an outside corpus: its ``test`` split pooled and per soundfont."""
    from clip2frame.data.manifest import Manifest

    sf_of = man.extra.get("soundfont_of", {})
    test = man.split("test")
    out = {"outside-test": Manifest(man.name, man.root, man.labels, man.kinds,
                                    [replace(c, split="outside-test") for c in test], man.extra)}
    for short, name in man.extra.get("soundfonts", {}).items():
        sub = [replace(c, split=f"outside-test-{short}") for c in test
               if sf_of.get(c.audio_path.relative_to(man.root).as_posix()) == name]
        if sub:
            out[f"outside-test-{short}"] = Manifest(man.name, man.root, man.labels, man.kinds, sub, man.extra)
    return out


def frames_of(tagger, man, split: str, work, max_clips: int = 0):
    """Loaded split data and the model's per-clip frame probabilities (N x [T_i, K])."""
    from clip2frame.eval.protocol import split_outputs
    from clip2frame.train.data import load_split

    data = load_split(man, split, tagger.feature_spec, tagger.labels, total_stride=tagger.total_stride,
                      run_dir=work, max_clips=max_clips, progress=False)
    _, frames = split_outputs(tagger.net, tagger.standardizer, data)
    return data, frames


def score_axis(tagger, data, frames, corpus_labels) -> tuple[dict, list]:
    """Per-tag frame scores of one tagger on a split with frame truth, macro over the tags present.

    Only the model's tags the corpus labels (``corpus_labels``) are scored: the real-recording corpus has
    no tempo truth, so ``fast``/``slow`` are left out there rather than counted as false positives.

    ``frame_auc``, ``frame_macro_f1`` and ``allpos_macro_f1`` average the tags with positive frames
    (a corpus may cover only some tags); ``allpos_f1/<tag>`` is the always-on F1 (2p/(1+p), p the tag's
    frame prior); ``absent_active/<tag>`` the share of frames marked active in clips where it is absent.
    """
    from clip2frame.eval.metrics import evaluate_frames
    from clip2frame.eval.protocol import frame_truth_at, segment_scores

    cols = [k for k, t in enumerate(tagger.labels) if t in set(corpus_labels)]
    labels, thr = [tagger.labels[k] for k in cols], np.asarray(tagger.thresholds)[cols]
    frames = [fr[:, cols] for fr in frames]
    truth = frame_truth_at(data, labels, frames, tagger.frame_seconds)
    T, S = np.concatenate(truth), np.concatenate(frames)
    res = evaluate_frames(T, S, thr, labels=labels)
    hop_s = tagger.feature_spec.hop_length / tagger.feature_spec.sr
    res.update(segment_scores(data, labels, frames, thr, tagger.frame_seconds, clip_s=hop_s))
    present = []
    label_idx = {t: k for k, t in enumerate(tagger.labels)}
    for k, t in enumerate(labels):
        p = float(T[:, k].mean()) if len(T) else 0.0
        res[f"prior/{t}"] = p
        res[f"allpos_f1/{t}"] = 2 * p / (1 + p) if p > 0 else float("nan")
        on = [float((fr[:, k] >= thr[k]).mean()) for fr, y in zip(frames, data.clip_labels) if not y[label_idx[t]]]
        res[f"absent_active/{t}"] = float(np.mean(on)) if on else float("nan")
        if p > 0:
            present.append(t)
    res["tags_present"] = present
    for key, src in (("frame_auc", "frame_auc/"), ("frame_macro_f1", "frame_f1/"), ("allpos_macro_f1", "allpos_f1/")):
        vals = [res[src + t] for t in present if res[src + t] == res[src + t]]
        res[key] = float(np.mean(vals)) if vals else float("nan")
    res["clips"] = len(frames)
    res["labels_scored"] = labels
    return res, truth


def musicnn_axis(mres, frames, truth, tagger, musicnn_tag: dict, on_grid, scored: list[str]) -> dict:
    """musicnn's frame ROC-AUC on the shared tags with positives, next to the model's on the same frames
    (``truth``: columns ``scored``, as :func:`score_axis` returns them)."""
    from clip2frame.eval.metrics import frame_auc

    shared = [t for t in scored if t in musicnn_tag]
    idx = [tagger.labels.index(t) for t in shared]
    y = np.concatenate(truth)[:, [scored.index(t) for t in shared]]
    keep = [j for j in range(len(shared)) if 0 < y[:, j].sum() < len(y)]
    shared, idx, y = [shared[j] for j in keep], [idx[j] for j in keep], y[:, keep]
    if not shared:
        return {}
    s_ours = np.concatenate(frames)[:, idx]
    s_mn = np.concatenate([np.stack([on_grid(r, fr.shape[0], tagger.frame_seconds, musicnn_tag[t]) for t in shared],
                                    axis=1) for r, fr in zip(mres, frames)])
    a_ours, a_mn = frame_auc(y, s_ours), frame_auc(y, s_mn)
    return {"shared_tags": shared, "frame_auc": a_mn["auc"], "model_frame_auc_on_shared": a_ours["auc"],
            **{f"frame_auc/{t}": float(v) for t, v in zip(shared, a_mn["auc_values"])}}


def nonmusic_axis(man, data, frames, tagger, mres=None, musicnn_tag=None, on_grid=None) -> dict:
    """Per non-music family: share of frames with any instrument detection, per instrument family and per
    tag (frames at or above the model's thresholds); musicnn: share of frames with a shared instrument tag
    at probability >= ``MUSICNN_FIRE``."""
    from clip2frame.tags import INSTRUMENT_FAMILY, INSTRUMENT_TAGS

    fam_of = man.extra.get("family_of", {})
    clips = {c.clip_id: c for c in man.split("nonmusic")}
    inst = [tagger.labels.index(t) for t in INSTRUMENT_TAGS if t in tagger.labels]
    groups: dict[str, list[int]] = {}
    for i, cid in enumerate(data.clip_ids):
        groups.setdefault(fam_of.get(clips[cid].audio_path.relative_to(man.root).as_posix(), "?"), []).append(i)
    out: dict = {}
    for fam, idx in groups.items():
        fr = np.concatenate([frames[i] for i in idx])
        fires = fr >= tagger.thresholds[None, :]
        r = {"frames": int(len(fr)), "seconds": float(len(fr) * tagger.frame_seconds),
             "any_instrument": float(fires[:, inst].any(axis=1).mean())}
        for t in tagger.labels:
            r[f"tag/{t}"] = float(fires[:, tagger.labels.index(t)].mean())
        for f in sorted(set(INSTRUMENT_FAMILY.values())):
            cols = [tagger.labels.index(t) for t, g in INSTRUMENT_FAMILY.items() if g == f and t in tagger.labels]
            r[f"family/{f}"] = float(fires[:, cols].any(axis=1).mean())
        if mres is not None:
            shared = [t for t in INSTRUMENT_TAGS if t in musicnn_tag]
            mn = np.concatenate([np.stack([on_grid(mres[i], frames[i].shape[0], tagger.frame_seconds, musicnn_tag[t])
                                           for t in shared], axis=1) for i in idx])
            r["musicnn_any_instrument"] = float((mn >= MUSICNN_FIRE).any(axis=1).mean())
        out[fam] = r
    return out


def _fmt(v) -> str:
    return "–" if v is None or (isinstance(v, float) and v != v) else f"{v:.3f}"


def print_axis(name: str, res: dict, labels: list[str]) -> None:
    """A markdown summary line and per-tag table of one axis."""
    m, o, mn = res["model"], res.get("oracle", {}), res.get("musicnn", {})
    print(f"\n## {name} ({m['clips']} clips)\n")
    print("| | frame macro-AUC | macro-F1 (own thr.) | always-on macro-F1 | micro-F1 | segment F1 | tags with truth |")
    print("|---|---|---|---|---|---|---|")
    for who, r in (("model", m), ("oracle", o)):
        if r:
            print(f"| {who} | {_fmt(r['frame_auc'])} | {_fmt(r['frame_macro_f1'])} | {_fmt(r['allpos_macro_f1'])} | "
                  f"{_fmt(r.get('frame_micro_f1'))} | {_fmt(r.get('segment_f1'))} | {len(r['tags_present'])} |")
    if mn:
        print(f"| musicnn ({len(mn['shared_tags'])} shared tags) | {_fmt(mn['frame_auc'])} | | | | | |")
        print(f"| model on the same tags | {_fmt(mn['model_frame_auc_on_shared'])} | | | | | |")
    print("\n| tag | frame prior | AUC | F1 | always-on F1 | absent-clip frames active | oracle AUC | musicnn AUC |")
    print("|---|---|---|---|---|---|---|---|")
    for t in labels:
        print(f"| {t} | {_fmt(m.get(f'prior/{t}'))} | {_fmt(m.get(f'frame_auc/{t}'))} | {_fmt(m.get(f'frame_f1/{t}'))} | "
              f"{_fmt(m.get(f'allpos_f1/{t}'))} | {_fmt(m.get(f'absent_active/{t}'))} | "
              f"{_fmt(o.get(f'frame_auc/{t}'))} | {_fmt(mn.get(f'frame_auc/{t}'))} |")


def renderer_gap(heldin: dict, axis: dict, labels: list[str]) -> dict:
    """Held-in test minus the axis: macro AUC / F1 and per-tag AUC (positive = worse outside the renderer)."""
    out = {"frame_auc": heldin["frame_auc"] - axis["frame_auc"],
           "frame_macro_f1": heldin["frame_macro_f1"] - axis["frame_macro_f1"]}
    for t in labels:
        out[f"frame_auc/{t}"] = heldin.get(f"frame_auc/{t}", np.nan) - axis.get(f"frame_auc/{t}", np.nan)
    return out


def print_gap(gaps: dict, labels: list[str]) -> None:
    names = list(gaps)
    print("\n## renderer gap: held-in test minus the held-out arrangement axis (frame AUC; + = worse outside)\n")
    print("| | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    print("| macro-AUC | " + " | ".join(_fmt(gaps[n]["frame_auc"]) for n in names) + " |")
    print("| macro-F1 | " + " | ".join(_fmt(gaps[n]["frame_macro_f1"]) for n in names) + " |")
    for t in labels:
        print(f"| {t} | " + " | ".join(_fmt(gaps[n].get(f"frame_auc/{t}")) for n in names) + " |")


def print_nonmusic(res: dict, labels: list[str]) -> None:
    fams = list(res)
    print("\n## non-music: share of frames with an instrument detection (model thresholds)\n")
    head = "| family | seconds | any instrument | " + " | ".join(
        k.split("/", 1)[1] for k in res[fams[0]] if k.startswith("family/")) + " | tags firing (> 5 % of frames) |"
    if "musicnn_any_instrument" in res[fams[0]]:
        head += " musicnn any (p >= 0.5) |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for f in fams:
        r = res[f]
        firing = ", ".join(f"{t} {r[f'tag/{t}']:.2f}" for t in labels if r[f"tag/{t}"] > 0.05) or "none"
        row = f"| {f} | {r['seconds']:.0f} | {_fmt(r['any_instrument'])} | " + " | ".join(
            _fmt(v) for k, v in r.items() if k.startswith("family/")) + f" | {firing} |"
        if "musicnn_any_instrument" in r:
            row += f" {_fmt(r['musicnn_any_instrument'])} |"
        print(row)
