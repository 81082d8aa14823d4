"""Training of the sound, object and action models of thesis ch. 4 on a video corpus.

* sound model: ``clip2frame.models`` preset ``thesis-sound-ch4`` on the audio track, clip-level BCE
  against the video tags (mean pooling), Adagrad lr 0.01, batch 10 clips (thesis §4.2.4);
* object model: RGB frames at 1.953 fps, every frame of a video labelled with the video's tags, clip
  score = global spatial max; **trained from scratch** (no ImageNet weights offline) with the thesis'
  two-step schedule — early layers (conv1–conv5) frozen for ``freeze_epochs``, then all layers;
* action model: flow stacks, with one of the targets VT / OT(u) / ST(v) / SOT(v, u); the object and
  sound runs give O and S.

Mini-batches follow §4.2.4: a video is picked without replacement, then a random sub-clip of
``sub_clip_frames`` (10) consecutive output frames (5 s). The checkpoint with the best validation
clip-level ROC-AUC (video tags vs the max over time and space) is kept (ties: lower validation loss).

Run directory (:class:`clip2frame.rundir.RunDir`): ``config.yaml``, ``metrics.csv``, ``model.safetensors``
(:mod:`clip2frame.models.io`, kind sound / object / action), ``train_state.pt`` (resume: model, optimiser,
epoch, best score).

Data path: the one of the audio trainer (:mod:`clip2frame.train.loader`). The per-clip arrays (log-mel
features of the audio tracks, flow stacks) come from train/'s cache (:func:`clip2frame.train.data.cache_clips`,
video file names in :mod:`.cache`), the splits are :class:`clip2frame.train.data.SplitData`
(:mod:`.data`: ``sound_split``, ``visual_split``), batches are :class:`~clip2frame.train.loader.CropDataset`
items through :func:`~clip2frame.train.loader.make_loader`, and every epoch draws its randomness from
:func:`~clip2frame.train.loader.epoch_seed` ``(seed, epoch)``, so a resumed run ends with the same weights as
an uninterrupted one.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...audio.features import FeatureSpec, fit_standardizer
from ...config import load_yaml, to_dict
from ...errors import ConfigError, DatasetError
from ...models.fcn import Clip2FrameNet
from ...models.io import TaggerModel, VisualModel, load_model, load_visual_model, runtime_versions, save_model
from ...models.registry import fit_model_to_features, get_preset
from ...models.visual import VisualFCN, VisualFCNConfig, heatmap_size
from ...rundir import RunDir, utc_timestamp
from ...tags import VIDEO_INSTRUMENTS
from ...train.loader import CropDataset, PlanSampler, build_batch, epoch_plan, epoch_seed, make_loader
from ...train.optim import make_optimizer
from ..inference.metrics import defined_auc
from ..inference.predict import predict_sound, predict_visual
from .batches import flip_batch, still_items, visual_plan
from .config import RUNTIME_KEYS, VideoTrainConfig
from .data import (VideoItem, VisualInput, load_split, oracle_object_maps, sound_split, visual_frames,
                   visual_split)
from .targets import TargetSpec, make_target

log = logging.getLogger(__name__)

#: ``--object oracle``: object maps from the corpus truth instead of a model (a diagnostic).
ORACLE = "oracle"


# ------------------------------------------------------------------------------------------ sound model

def _clip_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Macro ROC-AUC over the labels that have both classes (nan when none)."""
    vals = [defined_auc(labels[:, k], scores[:, k]) for k in range(labels.shape[1])]
    vals = [v for v in vals if not math.isnan(v)]
    return float(np.mean(vals)) if vals else float("nan")


def _make_optimizer(cfg: VideoTrainConfig, params) -> torch.optim.Optimizer:
    """The shared factory (:func:`clip2frame.train.optim.make_optimizer`) over the parameters being trained
    (frozen layers left out)."""
    return make_optimizer([p for p in params if p.requires_grad], name=cfg.optimizer, lr=cfg.lr,
                          momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def _provenance(cfg: VideoTrainConfig, data_dir: Path, command: str | None) -> dict:
    return {"command": command or "", "config": to_dict(cfg), "dataset": str(data_dir), "seed": cfg.seed,
            "versions": runtime_versions(),
            "created": utc_timestamp()}


def _sound_epoch(net, opt: torch.optim.Optimizer, loader: torch.utils.data.DataLoader) -> float:
    """One epoch of clip-level BCE over the loader's batches; the loss summed over clips."""
    bce = torch.nn.BCELoss()
    tot = 0.0
    for x, _, y, _ in loader:
        loss = bce(net(x).clip.clamp(1e-7, 1 - 1e-7), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += float(loss.detach()) * len(x)
    return tot


def train_sound(data_dir: str | Path, out_dir: str | Path, cfg: VideoTrainConfig, *, command: str | None = None,
                resume: bool = True) -> Path:
    """Train the sound model on the corpus' audio tracks; returns ``out_dir/model.safetensors``.

    Features from the per-clip cache (:func:`clip2frame.video.training.data.sound_split`), batches of
    ``batch_clips`` clips cropped to the shortest clip's T through the trainers' shared data path
    (:func:`epoch_plan` -> :class:`CropDataset` -> :func:`make_loader`), epoch ``e`` seeded by
    :func:`epoch_seed` ``(cfg.seed, e)``: a resumed run ends with the uninterrupted run's weights.
    """
    torch.set_num_threads(cfg.threads)
    data_dir, out = Path(data_dir), Path(out_dir)
    preset = get_preset(cfg.sound_preset)
    spec = FeatureSpec(**preset.features)
    mcfg = fit_model_to_features(preset.model, n_scales=spec.n_scales, n_bands=spec.n_bands)
    run = RunDir(out)
    run.save_config({**to_dict(cfg), "sound_model": to_dict(mcfg), "feature_spec": to_dict(spec)},
                    may_change=RUNTIME_KEYS)
    tr = sound_split(data_dir, "train", spec, limit=cfg.max_train_videos, jobs=cfg.threads)
    va = sound_split(data_dir, "validation", spec, limit=cfg.max_validation_videos, jobs=cfg.threads)
    std = fit_standardizer(torch.from_numpy(np.asarray(f, np.float32))[None] for f in tr.feats)
    T = int(min(tr.lengths.min(), va.lengths.min()))
    stride = mcfg.total_stride
    Xva, _, Yva_t, _ = build_batch(va, [(i, 0, T) for i in range(len(va))], std, stride)
    Yva = Yva_t.numpy()
    sampler = PlanSampler()
    loader = make_loader(CropDataset(tr, std, stride), sampler)
    torch.manual_seed(cfg.seed)
    net = Clip2FrameNet(mcfg, len(VIDEO_INSTRUMENTS))
    opt = _make_optimizer(cfg, net.parameters())
    start, best = 0, (-1.0, math.inf)
    st = run.load_state() if resume else None
    if st is not None:
        net.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        start, best = int(st["epoch"]), (float(st["best_auc"]), float(st["best_loss"]))
        log.info("resuming sound model at epoch %d", start)
    best_state = st.get("best_model") if st else None
    for epoch in range(start, cfg.epochs):
        t0 = time.time()
        seed = epoch_seed(cfg.seed, epoch)
        torch.manual_seed(seed)  # dropout
        sampler.plan = epoch_plan(tr.lengths, cfg.batch_clips, T, stride, torch.Generator().manual_seed(seed))
        net.train()
        tot = _sound_epoch(net, opt, loader)
        net.eval()
        with torch.no_grad():
            pv = net(Xva).clip
            vloss = float(torch.nn.functional.binary_cross_entropy(pv.clamp(1e-7, 1 - 1e-7), Yva_t))
        vauc = _clip_auc(pv.numpy(), Yva)
        score = (vauc if not math.isnan(vauc) else -vloss, vloss)
        if score[0] > best[0] or (score[0] == best[0] and vloss < best[1]) or best_state is None:
            best = score
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            model = TaggerModel(net, spec, std, list(VIDEO_INSTRUMENTS), {k: "instrument" for k in VIDEO_INSTRUMENTS},
                                np.full(len(VIDEO_INSTRUMENTS), 0.5, np.float32), name="clip2frame-video-sound",
                                provenance={**_provenance(cfg, data_dir, command), "best_epoch": epoch + 1,
                                            "val_clip_auc": vauc},
                                kind="sound")
            save_model(out / "model.safetensors", model)
        run.append_metrics({"epoch": epoch + 1, "train_loss": round(tot / len(tr), 6), "val_loss": round(vloss, 6),
                     "val_clip_auc": round(vauc, 6), "best": int(best_state is not None and best == score),
                     "seconds": round(time.time() - t0, 2)})
        run.save_state({"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch + 1,
                        "best_auc": best[0], "best_loss": best[1], "best_model": best_state})
        log.info("sound epoch %d/%d loss %.4f val %.4f auc %.3f", epoch + 1, cfg.epochs, tot / len(tr), vloss, vauc)
    return out / "model.safetensors"


# ------------------------------------------------------------------------------------------ visual models

def save_visual(path: Path, net: VisualFCN, *, target: TargetSpec | None, provenance: dict,
                name: str = "clip2frame-video") -> Path:
    """The model file of an object/action FCN (:func:`clip2frame.models.io.save_model`, kind = the net's)."""
    tgt = None if target is None else {**to_dict(target), "name": target.name}
    model = VisualModel(net, net.cfg.kind, list(VIDEO_INSTRUMENTS), np.full(len(VIDEO_INSTRUMENTS), 0.5, np.float32),
                        {k: "instrument" for k in VIDEO_INSTRUMENTS}, tgt, f"{name}-{net.cfg.kind}",
                        provenance=provenance)
    return save_model(path, model)


def _visual_target(cfg: VideoTrainConfig, object_run, sound_run) -> TargetSpec:
    """The target of an object (VT on the video tags) or action run, its auxiliary runs checked."""
    if cfg.model not in ("object", "action"):
        raise ConfigError(f"config key 'model': train_visual trains object or action, got '{cfg.model}'")
    target = make_target(cfg.target, sound_threshold=cfg.sound_threshold, object_threshold=cfg.object_threshold) \
        if cfg.model == "action" else TargetSpec("VT")
    if target.needs_object and object_run is None:
        raise ConfigError(f"target {target.name}: needs --object RUN (a trained object model)")
    if target.needs_sound and sound_run is None:
        raise ConfigError(f"target {target.name}: needs --sound RUN (a trained sound model)")
    return target


def _visual_data(data_dir: Path, cfg: VideoTrainConfig, target: TargetSpec,
                 object_run) -> tuple[list[VideoItem], list[VideoItem]]:
    """The training videos (with rendered stills for the object model) and the validation videos, decoded as
    the model and its target need (flow from the flow cache)."""
    kind = cfg.model
    need = {"rgb"} if kind == "object" else {"flow"}
    if target.needs_object and str(object_run) != ORACLE:
        need.add("rgb")
    if target.needs_sound:
        need.add("wave")
    train = load_split(data_dir, "train", need=need, limit=cfg.max_train_videos, jobs=cfg.threads)
    if cfg.stills:
        train += still_items(cfg)
    val = load_split(data_dir, "validation", need=need - {"wave", "rgb"} | ({"rgb"} if kind == "object" else set()),
                     limit=cfg.max_validation_videos, jobs=cfg.threads)
    return train, val


def _auxiliary_streams(train: list[VideoItem], target: TargetSpec, cfg: VideoTrainConfig, object_run,
                       sound_run) -> tuple[list[np.ndarray | None], list[np.ndarray | None]]:
    """The object maps O [T, K, h, w] and sound activations S [T, K] of every training video that the
    target needs (None elsewhere), computed once; the RGB frames and waveforms are released after."""
    O_tr: list[np.ndarray | None] = [None] * len(train)
    S_tr: list[np.ndarray | None] = [None] * len(train)
    if target.needs_object and str(object_run) == ORACLE:
        for vi, it in enumerate(train):
            if it.truth is None:
                raise DatasetError(f"{it.path}: --object oracle needs the corpus truth (truth/<id>.json)")
            H, W = it.loaded("flow").shape[-2:]
            O_tr[vi] = oracle_object_maps(it.truth, it.n_frames, heatmap_size(H, W, conv6_padding=cfg.conv6_padding))
    elif target.needs_object:
        assert object_run is not None  # refused by _visual_target
        onet = load_visual_model(object_run, kind="object")
        O_tr = [predict_visual(onet, it.loaded("rgb")) for it in train]
        for it in train:
            it.rgb = None
    if target.needs_sound:
        assert sound_run is not None  # refused by _visual_target
        smodel = load_model(sound_run, kind="sound")
        S_tr = [predict_sound(smodel, it.loaded("wave"), it.n_frames) for it in train]
        for it in train:
            it.wave = None
    return O_tr, S_tr


@dataclass
class _VisualRun:
    """What one epoch of a visual model trains on: its data path (the shared :class:`CropDataset` and
    :class:`PlanSampler` through :func:`make_loader`), the videos and the target's auxiliary streams."""

    train: list[VideoItem]
    O: list[np.ndarray | None]
    S: list[np.ndarray | None]
    target: TargetSpec
    sampler: PlanSampler
    loader: torch.utils.data.DataLoader


def _train_epoch(net: VisualFCN, opt: torch.optim.Optimizer, vr: _VisualRun, cfg: VideoTrainConfig,
                 gen: np.random.Generator) -> tuple[float, int]:
    """One epoch over ``vr.sampler.plan`` (set by the caller); the summed batch loss and the batch count."""
    tgt = vr.target
    tot, n = 0.0, 0
    for step, (x, n_valid, _, _) in enumerate(vr.loader):
        items = vr.sampler.plan[step]
        counts = n_valid.tolist()
        frames = [(vi, t) for (vi, t0, _), c in zip(items, counts) for t in range(t0, t0 + c)]
        x = torch.cat([x[b, :c] for b, c in enumerate(counts)])  # [N frames, C, H, W]
        V = torch.as_tensor(np.stack([vr.train[vi].tags for vi, _ in frames]))
        O = torch.as_tensor(np.stack([vr.O[vi][t] for vi, t in frames])) if tgt.needs_object else None  # type: ignore[index]
        S = torch.as_tensor(np.stack([vr.S[vi][t] for vi, t in frames])) if tgt.needs_sound else None  # type: ignore[index]
        if cfg.flip:  # the input and its object maps mirrored together, before the forward pass
            x, O = flip_batch(x, O, cfg.model, gen)
        A = net(x).heatmap
        loss = tgt.loss(A, V=V, S=S, O=O, pos_weight=cfg.pos_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += float(loss.detach())
        n += 1
    return tot, n


def _validate(net: VisualFCN, val: list[VideoItem], kind: str) -> tuple[float, float]:
    """Validation clip-level ROC-AUC (max over time and space vs the tags) and mean VT loss."""
    clip_scores, vloss = [], 0.0
    for it in val:
        hm = predict_visual(net, visual_frames(it, kind))
        clip_scores.append(hm.max(axis=(0, 2, 3)))
        p = torch.as_tensor(hm).amax(dim=(-2, -1)).clamp(1e-7, 1 - 1e-7)
        vloss += float(torch.nn.functional.binary_cross_entropy(
            p, torch.as_tensor(np.repeat(it.tags[None], len(hm), 0))))
    vloss /= max(1, len(val))
    return _clip_auc(np.stack(clip_scores), np.stack([it.tags for it in val])), vloss


def _set_frozen(net: VisualFCN, frozen: bool) -> None:
    for p in net.early_parameters():
        p.requires_grad_(not frozen)


def train_visual(data_dir: str | Path, out_dir: str | Path, cfg: VideoTrainConfig, *,
                 object_run: str | Path | None = None, sound_run: str | Path | None = None,
                 command: str | None = None, resume: bool = True) -> Path:
    """Train the object model (video tags) or the action model (target ``cfg.target``).

    Batches come through the trainers' shared data path (:func:`visual_split` -> :class:`CropDataset` ->
    :class:`PlanSampler` -> :func:`make_loader`), epoch ``e`` drawing its plan, flips and dropout from
    :func:`epoch_seed` ``(cfg.seed, e)``: a run resumed from ``train_state.pt`` ends with the same weights
    as an uninterrupted one. Returns ``out_dir/model.safetensors``.
    """
    torch.set_num_threads(cfg.threads)
    data_dir, out = Path(data_dir), Path(out_dir)
    kind = cfg.model
    target = _visual_target(cfg, object_run, sound_run)
    mcfg = (VisualFCNConfig.for_object if kind == "object" else VisualFCNConfig.for_action)(
        cfg.width, conv6_padding=cfg.conv6_padding, batch_norm=cfg.batch_norm, dropout=cfg.dropout)
    run = RunDir(out)
    run.save_config({**to_dict(cfg), "visual_model": to_dict(mcfg), "target_name": target.name,
                     "object_run": str(object_run) if object_run else None,
                     "sound_run": str(sound_run) if sound_run else None}, may_change=RUNTIME_KEYS)
    train, val = _visual_data(data_dir, cfg, target, object_run)
    O_tr, S_tr = _auxiliary_streams(train, target, cfg, object_run, sound_run)
    sampler = PlanSampler()
    vr = _VisualRun(train, O_tr, S_tr, target, sampler,
                    make_loader(CropDataset(visual_split(train, kind), VisualInput(kind), 1), sampler))
    torch.manual_seed(cfg.seed)
    net = VisualFCN(mcfg, len(VIDEO_INSTRUMENTS))
    prov = _provenance(cfg, data_dir, command)
    start, best = 0, (-1.0, math.inf)
    frozen = cfg.freeze_epochs > 0
    _set_frozen(net, frozen)
    opt = _make_optimizer(cfg, net.parameters())
    st = run.load_state() if resume else None
    best_state = None
    if st is not None:
        net.load_state_dict(st["model"])
        start, best = int(st["epoch"]), (float(st["best_auc"]), float(st["best_loss"]))
        frozen = start < cfg.freeze_epochs
        _set_frozen(net, frozen)
        opt = _make_optimizer(cfg, net.parameters())
        try:
            opt.load_state_dict(st["optimizer"])
        except ValueError:
            log.info("optimiser state does not match the frozen/unfrozen parameter set; fresh optimiser")
        best_state = st.get("best_model")
        log.info("resuming %s model at epoch %d", kind, start)
    for epoch in range(start, cfg.epochs):
        if frozen and epoch >= cfg.freeze_epochs:
            frozen = False
            _set_frozen(net, False)
            opt = _make_optimizer(cfg, net.parameters())
            log.info("epoch %d: early layers unfrozen", epoch + 1)
        t0 = time.time()
        seed = epoch_seed(cfg.seed, epoch)
        torch.manual_seed(seed)  # dropout
        gen = np.random.default_rng(seed)  # the plan, then the flips
        sampler.plan = visual_plan(train, kind, cfg, gen)
        net.train()
        tot, n = _train_epoch(net, opt, vr, cfg, gen)
        vauc, vloss = _validate(net, val, kind)
        score = (vauc if not math.isnan(vauc) else -vloss, vloss)
        improved = best_state is None or score[0] > best[0] or (score[0] == best[0] and vloss < best[1])
        if improved:
            best = score
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            save_visual(out / "model.safetensors", net, target=target if kind == "action" else None,
                        provenance={**prov, "best_epoch": epoch + 1, "val_clip_auc": vauc})
        run.append_metrics({"epoch": epoch + 1, "train_loss": round(tot / max(n, 1), 6), "val_loss": round(vloss, 6),
                     "val_clip_auc": round(vauc, 6), "best": int(improved), "frozen_early": int(frozen),
                     "seconds": round(time.time() - t0, 2)})
        run.save_state({"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch + 1,
                        "best_auc": best[0], "best_loss": best[1], "best_model": best_state})
        log.info("%s %s epoch %d/%d loss %.4f val %.4f auc %.3f (%.1fs)", kind, target.name if kind == "action" else "",
                 epoch + 1, cfg.epochs, tot / max(n, 1), vloss, vauc, time.time() - t0)
    return out / "model.safetensors"


def _finished(out: Path, cfg: VideoTrainConfig) -> bool:
    """A run whose state already holds ``cfg.epochs`` epochs (and the same settings) needs no data."""
    st, cf, model = out / "train_state.pt", out / "config.yaml", out / "model.safetensors"
    if not (st.is_file() and cf.is_file() and model.is_file()):
        return False
    old = load_yaml(cf)
    defaults = to_dict(VideoTrainConfig())  # a key added since the run was made counts as its default
    if any(old.get(k, defaults.get(k)) != v for k, v in to_dict(cfg).items() if k not in RUNTIME_KEYS):
        return False
    try:
        return int(torch.load(st, map_location="cpu", weights_only=True)["epoch"]) >= cfg.epochs
    except Exception:
        return False


def train(data_dir: str | Path, out_dir: str | Path, cfg: VideoTrainConfig, *, object_run=None, sound_run=None,
          command: str | None = None, resume: bool = True) -> Path:
    """Dispatch on ``cfg.model``; a finished run (same settings, all epochs done) returns at once."""
    if resume and _finished(Path(out_dir), cfg):
        log.info("%s: already trained for %d epochs", out_dir, cfg.epochs)
        return Path(out_dir) / "model.safetensors"
    if cfg.model == "sound":
        return train_sound(data_dir, out_dir, cfg, command=command, resume=resume)
    return train_visual(data_dir, out_dir, cfg, object_run=object_run, sound_run=sound_run, command=command,
                        resume=resume)
