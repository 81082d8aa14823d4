"""Training on clip tags (weak supervision) or, for the oracle, on frame truth.

Run directory::

    config.yaml        the resolved TrainConfig (every setting that made the result)
    metrics.csv        one row per epoch
    train_state.pt     resumable state, written atomically at every epoch end (loaded weights_only)
    model.safetensors  the best checkpoint with labels, feature spec, standardisation, thresholds
    summary.json       best epoch, validation scores, skipped clips

A killed run restarts from the last completed epoch; every epoch draws its randomness from
``(seed, epoch)``, so a resumed run ends with the same weights as an uninterrupted one.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..audio.features import Standardizer, fit_standardizer
from ..config import to_dict
from ..data.manifest import Manifest, load_manifest
from ..errors import Clip2FrameError, DatasetError
from ..eval.metrics import clip_auc_ap, frame_auc
from ..eval.protocol import split_outputs
from ..fileio import atomic_write_text
from ..infer.predict import resolve_device
from ..models.fcn import Clip2FrameNet
from ..models.io import TaggerModel, runtime_versions, save_model
from ..rundir import RunDir, utc_timestamp
from . import domains
from .augment import CropAugmenter, with_seeds
from .config import PLACEMENT_KEYS, TrainConfig, settings_dict
from .data import SplitData, load_split, write_skipped
from .distributed import init_from_env
from .loader import CropDataset, PlanSampler, epoch_plan, epoch_seed, make_loader
from .mean_teacher import MeanTeacher
from .optim import audio_param_groups, make_optimizer
from .thresholds import fit_model_thresholds

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What :func:`train` returns: the run directory, the model file, the best epoch and its score, the
    metrics of every epoch and the trained model.
    """

    run_dir: Path
    model_path: Path
    best_epoch: int
    best_score: float
    history: list[dict]
    tagger: TaggerModel


def _config_hash(cfg: TrainConfig) -> str:
    # stopping rules, the checkpoint kept and placement may change on resume
    d = settings_dict(cfg, drop=PLACEMENT_KEYS + ("epochs", "patience", "early_stopping", "checkpoint"))
    if not d.get("amp"):
        d.pop("amp_dtype", None)  # runs without mixed precision keep the hash they had before the key existed
    return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def _device(cfg: TrainConfig) -> torch.device:
    return resolve_device(cfg.device)


def _bce(p: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    loss = F.binary_cross_entropy(p.float().clamp(1e-7, 1 - 1e-7), y.float(), reduction="none")
    if mask is None:
        return loss.mean()
    return (loss * mask).sum() / mask.sum().clamp_min(1.0)


def mixed_precision(cfg: TrainConfig, device: torch.device) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, whether a GradScaler scales the loss) for ``cfg.amp`` on ``device``:
    mixed precision only on CUDA; bf16 needs no loss scaling, fp16 does."""
    if not cfg.amp or device.type != "cuda":
        return None, False
    return (torch.bfloat16, False) if cfg.amp_dtype == "bf16" else (torch.float16, True)


def _batch_loss(net, cfg: TrainConfig, autocast_dtype, x, n_valid, y, yf) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean loss of a batch and the number of elements it averages (for DDP's per-rank weighting); the
    forward pass under autocast when ``autocast_dtype`` is given, the loss in float32."""
    if autocast_dtype is not None:
        with torch.autocast(x.device.type, dtype=autocast_dtype):
            out = net(x, n_valid)
    else:
        out = net(x, n_valid)
    if cfg.supervision == "frame":
        t = torch.arange(out.frame.shape[-1], device=x.device)
        mask = (t[None, :] < n_valid[:, None]).float()[:, None, :].expand_as(out.frame)
        return _bce(out.frame, yf, mask), mask.sum()
    return _bce(out.clip, y), torch.tensor(float(y.numel()))


def _validate(net, std, data: SplitData, cfg: TrainConfig, labels, device) -> dict[str, float]:
    clip_scores, frames = split_outputs(net, std, data, device=device)
    out: dict[str, float] = {}
    loss = F.binary_cross_entropy(torch.from_numpy(clip_scores).float().clamp(1e-7, 1 - 1e-7),
                                  torch.from_numpy(data.clip_labels)).item()
    out["val_loss"] = loss
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["clip_auc"] = float(clip_auc_ap(data.clip_labels, clip_scores)["auc_per_tag"])
        if data.frame_truth is not None:
            truth = np.concatenate([t[: f.shape[0]] for t, f in zip(data.frame_truth, frames)])
            out["frame_auc"] = float(frame_auc(truth, np.concatenate(frames))["auc"])
    return out


_SELECT_PREFIX = {"held-in": "", "extra": "extra_", "all": "all_"}


def _validate_domains(net, std, val: SplitData, extra: SplitData | None, cfg: TrainConfig, labels,
                      device) -> dict[str, float]:
    """Scores on the held-in split, and (prefixed ``extra_``/``all_``) on the extra sets and on both pooled."""
    scores = _validate(net, std, val, cfg, labels, device)
    if extra is not None:
        scores.update({f"extra_{k}": v for k, v in _validate(net, std, extra, cfg, labels, device).items()})
        if cfg.select_on == "all":
            pooled = domains.pick("all", val, extra)
            scores.update({f"all_{k}": v for k, v in _validate(net, std, pooled, cfg, labels, device).items()})
    return scores


def _load_unlabelled(cfg: TrainConfig, labels: list[str], common: dict) -> SplitData | None:
    """The mean teacher's unlabelled clips (their tags ignored), or None when it is off."""
    if not cfg.mean_teacher.enabled:
        return None
    m = load_manifest(cfg.mean_teacher.data)
    domains.check_fit_allowed(m, cfg.mean_teacher.split, key="mean_teacher.data", training=True)
    data = load_split(m, cfg.mean_teacher.split, cfg.features, labels, max_clips=cfg.mean_teacher.max_clips,
                      **common)
    if len(data) == 0:
        raise Clip2FrameError(f"{cfg.mean_teacher.data}: no usable clips in split '{cfg.mean_teacher.split}'")
    return data


def stopping_record(cfg: TrainConfig, best_epoch: int, epochs_run: int, bad: int) -> dict[str, Any]:
    """How a run ended (``summary.json``): ``stopped_by`` "patience" (``patience`` epochs without a better
    validation score) or "cap" (``epochs`` reached), ``stop_epoch``, the cap and patience, and
    ``best_in_last_10pct``: the best epoch lies in the last 10% of the epochs run at the cap (the run had
    not finished learning)."""
    by_patience = cfg.early_stopping and bad >= cfg.patience
    return {"stopped_by": "patience" if by_patience else "cap", "stop_epoch": epochs_run,
            "epochs_cap": cfg.epochs, "patience": cfg.patience if cfg.early_stopping else None,
            "best_in_last_10pct": bool(not by_patience and best_epoch > 0.9 * epochs_run)}


def train(cfg: TrainConfig, *, progress: bool = True, command: str | None = None) -> TrainResult:
    """Train ``cfg`` to its run directory and return the best model (thresholds fitted).

    Under ``torchrun`` (RANK/WORLD_SIZE/LOCAL_RANK set, WORLD_SIZE > 1) this process is one rank of a
    data-parallel job: see :mod:`clip2frame.train.distributed`.
    """
    cfg.validate()
    if not cfg.data:
        raise Clip2FrameError("config key 'data': no dataset given (a manifest directory, e.g. from "
                              "'clip2frame synth music')")
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    run_dir = Path(cfg.out)
    run_dir.mkdir(parents=True, exist_ok=True)  # (the RunDir is opened by rank 0 only, in _train)
    device = _device(cfg)
    # ---- DDP hook: under torchrun, one rank of a data-parallel job (see train/distributed.py); else inert
    ddp = init_from_env(device)
    device, progress = ddp.device(device), progress and ddp.is_main
    try:
        return _train(cfg, ddp, run_dir, device, progress=progress, command=command)
    finally:
        ddp.close()


@dataclass
class _Splits:
    """The data of a run, loaded once: the training clips the epochs draw from (untagged ones dropped unless
    kept), the 0-dB training clips the standardiser is fitted on, validation, the extra validation domains,
    the mean teacher's unlabelled clips and the clips left out ``(split, clip, reason)``."""

    manifest: Manifest
    labels: list[str]
    kinds: dict[str, str]
    train: SplitData
    first: SplitData
    val: SplitData
    extra: SplitData | None
    unlabelled: SplitData | None
    skipped: list[tuple[str, str, str]]


@dataclass
class _RunState:
    """The bookkeeping a resume needs besides the weights: the epochs done, their metrics, the best score and
    epoch, the epochs since the best (``bad``) and the best weights; ``loaded`` holds the GradScaler and
    teacher states read from ``train_state.pt``."""

    config_hash: str
    start: int = 0
    history: list[dict] = field(default_factory=list)
    best_score: float = -math.inf
    best_epoch: int = -1
    bad: int = 0
    best_net: dict | None = None
    loaded: dict = field(default_factory=dict)


@dataclass
class _Session:
    """What the epochs of a run work with: the network, its optimiser and standardiser, the mean teacher,
    the loss scaler and autocast dtype, the batch sampler and loader, the training clips' lengths."""

    net: Clip2FrameNet
    opt: torch.optim.Optimizer
    std: Standardizer
    mt: MeanTeacher | None
    autocast_dtype: torch.dtype | None
    scaler: torch.amp.GradScaler | None
    sampler: PlanSampler
    augment: CropAugmenter | None
    loader: torch.utils.data.DataLoader
    lengths: np.ndarray
    params: list[torch.nn.Parameter]


def _train(cfg: TrainConfig, ddp, run_dir: Path, device: torch.device, *, progress: bool,
           command: str | None) -> TrainResult:
    """One rank's run: load the data, set up (or resume) the run, train epoch by epoch, finish."""
    run = RunDir(run_dir, clean=ddp.is_main)  # rank 0 removes temp files a killed run left
    data = _load_splits(cfg, ddp, run_dir, progress=progress)
    if ddp.is_main:
        write_skipped(run_dir, data.skipped)
        run.save_config(to_dict(cfg), check=False)  # the state's config hash decides (below)
    sess, state = _setup(cfg, ddp, run, data, device)
    stopped = cfg.early_stopping and state.bad >= cfg.patience
    for epoch in range(state.start, cfg.epochs):
        if stopped:
            break
        t0 = time.time()
        total = _train_epoch(cfg, ddp, sess, epoch, device, progress=progress)
        if _end_epoch(cfg, ddp, run, sess, state, data, epoch, total, t0, device):
            break
    return _finish(cfg, ddp, run_dir, sess, state, data, device, command)


def _load_splits(cfg: TrainConfig, ddp, run_dir: Path, *, progress: bool) -> _Splits:
    """Load (and cache) every split a run reads; untagged training clips dropped unless ``keep_untagged``."""
    manifest = load_manifest(cfg.data)
    if manifest.extra.get("evaluation_only"):   # clip2frame synth outside|real|nonmusic (issue #24)
        raise DatasetError(f"{cfg.data}: an evaluation-only corpus ({manifest.extra.get('renderer', '?')}); "
                           "it is never used for training")
    labels, kinds = list(manifest.labels), dict(manifest.kinds)
    common: dict[str, Any] = dict(total_stride=cfg.model.total_stride, run_dir=run_dir, progress=progress,
                                  jobs=max(1, cfg.num_workers))
    with ddp.main_first():  # rank 0 fills the feature cache, the other ranks read it
        train_parts = [load_split(manifest, cfg.train_split, cfg.features, labels, max_clips=cfg.max_clips,
                                  **common)]
        if cfg.volume_aug_db:
            for g in (-cfg.volume_aug_db, cfg.volume_aug_db):
                train_parts.append(load_split(manifest, cfg.train_split, cfg.features, labels, gain_db=g,
                                              max_clips=cfg.max_clips, **common))
        val = load_split(manifest, cfg.val_split, cfg.features, labels, **common)
        extra = domains.load_extra_val(cfg.extra_val, labels, cfg.features, **common)
        unlabelled = _load_unlabelled(cfg, labels, common)
    tr = SplitData.concat(train_parts)
    skipped = [(cfg.train_split, c, r) for c, r in train_parts[0].skipped] + \
              [(cfg.val_split, c, r) for c, r in val.skipped]
    if cfg.supervision == "clip" and cfg.keep_untagged:
        log.info("%d training clips have no tag and are kept as negatives", int((~tr.clip_labels.any(1)).sum()))
    elif cfg.supervision == "clip":
        keep = [i for i in range(len(tr)) if tr.clip_labels[i].any()]
        if len(keep) < len(tr):
            log.warning("%d training clips have no tag and are left out (as in the thesis' MTT protocol)",
                        len(tr) - len(keep))
            kept = set(keep)
            skipped += [(cfg.train_split, tr.clip_ids[i], "no tag") for i in range(len(tr)) if i not in kept]
            tr = tr.subset(keep)
    elif tr.frame_truth is None:
        raise Clip2FrameError(f"{cfg.data}: supervision 'frame' needs frame truth (a strong-label file) "
                              f"for split '{cfg.train_split}'")
    if len(tr) == 0:
        raise Clip2FrameError(f"{cfg.data}: no usable training clips in split '{cfg.train_split}'")
    never = [labels[k] for k in range(len(labels)) if not tr.clip_labels[:, k].any()]
    if never:
        log.warning("tags never seen in training (their outputs will stay low): %s", ", ".join(never))
    return _Splits(manifest, labels, kinds, tr, train_parts[0], val, extra, unlabelled, skipped)


def _setup(cfg: TrainConfig, ddp, run: RunDir, data: _Splits,
           device: torch.device) -> tuple[_Session, _RunState]:
    """The network (seeded, broadcast under DDP), optimiser, resumed state, mean teacher, loss scaler and
    batch loader of a run."""
    s = cfg.model.total_stride
    std = fit_standardizer(torch.from_numpy(f.astype(np.float32))[None] for f in data.first.feats)
    torch.manual_seed(cfg.seed)
    net = Clip2FrameNet(cfg.model, len(data.labels)).to(device)
    ddp.broadcast_parameters(net)
    opt = make_optimizer(audio_param_groups(net, lr=cfg.lr, sigma_lr_mult=cfg.sigma_lr_mult), name=cfg.optimizer,
                         lr=cfg.lr)
    state = _resume(run.state_path, _config_hash(cfg), net, opt)
    mt = None
    if data.unlabelled is not None:
        if ddp.enabled:
            raise Clip2FrameError("config key 'mean_teacher.data': the mean teacher runs in one process (no DDP)")
        mt = MeanTeacher(cfg.mean_teacher, net, data.unlabelled, std, stride=s, crop_frames=cfg.crop_frames,
                         batch_size=cfg.batch_size)
        if "teacher" in state.loaded:
            mt.load_state_dict(state.loaded["teacher"])
    autocast_dtype, use_scaler = mixed_precision(cfg, device)
    scaler = torch.amp.GradScaler("cuda") if use_scaler else None
    if scaler is not None and "scaler" in state.loaded:
        scaler.load_state_dict(state.loaded["scaler"])
    sampler = PlanSampler(ddp.shard if ddp.enabled else None)  # under DDP: this rank's share of each batch
    augment = CropAugmenter(cfg.augment) if cfg.augment.enabled else None
    loader = make_loader(CropDataset(data.train, std, s, cfg.supervision == "frame", augment), sampler,
                         num_workers=cfg.num_workers, pin_memory=device.type == "cuda")
    sess = _Session(net, opt, std, mt, autocast_dtype, scaler, sampler, augment, loader, data.train.lengths,
                    list(net.parameters()))
    return sess, state


def _resume(state_path: Path, chash: str, net: torch.nn.Module, opt: torch.optim.Optimizer) -> _RunState:
    """The run state of ``state_path`` (``train_state.pt``) loaded into ``net`` and ``opt``, or a fresh one
    when there is no such file; a state of other settings (``chash``) is refused."""
    state = _RunState(chash)
    if state_path.is_file():
        st = torch.load(state_path, map_location="cpu", weights_only=True)
        state.loaded = {k: st[k] for k in ("scaler", "teacher") if k in st}
        if st.get("config_hash") != chash:
            raise Clip2FrameError(f"{state_path}: belongs to a run with other settings; use a new --out or "
                                  f"delete the file to start over")
        net.load_state_dict(st["net"])
        opt.load_state_dict(st["opt"])
        state.start, state.history = int(st["epoch"]), list(st["history"])
        state.best_score, state.best_epoch = float(st["best_score"]), int(st["best_epoch"])
        state.bad, state.best_net = int(st["bad"]), st["best_net"]
        log.info("resuming %s after epoch %d", state_path.parent, state.start)
    return state


def _train_epoch(cfg: TrainConfig, ddp, sess: _Session, epoch: int, device: torch.device, *,
                 progress: bool) -> float:
    """One epoch of optimiser steps on the epoch's plan (drawn from ``(seed, epoch)``); returns the sum over
    global batches of the batch's mean loss x its size."""
    net, opt, scaler, mt, sampler = sess.net, sess.opt, sess.scaler, sess.mt, sess.sampler
    seed = epoch_seed(cfg.seed, epoch)
    torch.manual_seed(ddp.rank_seed(seed))  # dropout (per rank under DDP; rank 0 = single process)
    gen = torch.Generator().manual_seed(seed)  # order and crops
    net.train()
    sampler.plan = epoch_plan(sess.lengths, cfg.batch_size, cfg.crop_frames, cfg.model.total_stride, gen)
    if sess.augment is not None:  # a seed per crop, drawn from nothing the plan uses
        sampler.plan = with_seeds(sampler.plan, seed)
    if mt is not None:
        mt.start_epoch(seed)
    total = 0.0
    bar = tqdm(sess.loader, total=len(sampler.plan), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress,
               leave=False, file=sys.stderr)
    for step, batch in enumerate(bar):
        x, n_valid, y, yf = (None if t is None else t.to(device, non_blocking=True) for t in batch)
        opt.zero_grad(set_to_none=True)
        if ddp.enabled:  # this rank's share of the global batch; gradients summed over ranks
            loss = ddp.backward_shard(lambda *b: _batch_loss(net, cfg, sess.autocast_dtype, *b), (x, n_valid, y, yf),
                                      sess.params, sharded=True,
                                      backward=(lambda t: scaler.scale(t).backward()) if scaler else None)
        else:
            loss = _batch_loss(net, cfg, sess.autocast_dtype, x, n_valid, y, yf)[0]
            if mt is not None:  # + w(epoch) x consistency with the teacher on an unlabelled batch
                loss = loss + mt.loss(net, step, epoch, device, sess.autocast_dtype)
            (scaler.scale(loss) if scaler else loss).backward()
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        if mt is not None:
            mt.update(net)
        total += loss.item() * len(sampler.plan[step])  # the global batch's mean loss x its size
        bar.set_postfix(loss=f"{loss.item():.4f}")
    return total


def _selection_score(cfg: TrainConfig, scores: dict[str, float]) -> float:
    """The validation score the best epoch is chosen on (``select_on``/``select_metric``; the negated loss
    when the metric is the loss or not finite)."""
    pre = _SELECT_PREFIX[cfg.select_on]
    metric = scores.get(pre + cfg.select_metric, scores[pre + "clip_auc"])
    if cfg.select_metric == "loss" or not np.isfinite(metric):  # e.g. a validation set too small for AUC
        metric = -scores[pre + "val_loss"]
    return metric


def _end_epoch(cfg: TrainConfig, ddp, run: RunDir, sess: _Session, state: _RunState, data: _Splits, epoch: int,
               total: float, t0: float, device: torch.device) -> bool:
    """Validate after ``epoch`` (0-based), keep the best weights, log and (rank 0) write ``metrics.csv`` and
    ``train_state.pt``; True when early stopping ends the run."""
    net = sess.net
    scores = ddp.on_main(lambda: _validate_domains(net, sess.std, data.val, data.extra, cfg, data.labels,
                                                   device))  # rank 0
    row = {"epoch": epoch + 1, "train_loss": round(total / len(data.train), 6),
           **{k: round(v, 6) for k, v in scores.items()}, "seconds": round(time.time() - t0, 2)}
    metric = _selection_score(cfg, scores)
    if np.isfinite(metric) and metric > state.best_score + 1e-6:
        state.best_score, state.best_epoch, state.bad = float(metric), epoch + 1, 0
        state.best_net = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    else:
        state.bad += 1
    row["best_epoch"] = state.best_epoch
    state.history.append(row)
    log.info("epoch %d: %s", epoch + 1, ", ".join(f"{k}={v}" for k, v in row.items() if k != "epoch"))
    if ddp.is_main:
        run.write_metrics(state.history)
        run.save_state({
            "config_hash": state.config_hash, "epoch": epoch + 1, "net": net.state_dict(),
            "opt": sess.opt.state_dict(), "history": state.history, "best_score": state.best_score,
            "best_epoch": state.best_epoch, "bad": state.bad,
            "best_net": state.best_net if state.best_net is not None else net.state_dict(),
            **({"scaler": sess.scaler.state_dict()} if sess.scaler is not None else {}),
            **({"teacher": sess.mt.state_dict()} if sess.mt is not None else {}),
        })
    if cfg.early_stopping and state.bad >= cfg.patience:
        log.info("early stopping after epoch %d (best epoch %d)", epoch + 1, state.best_epoch)
        return True
    return False


def _finish(cfg: TrainConfig, ddp, run_dir: Path, sess: _Session, state: _RunState, data: _Splits,
            device: torch.device, command: str | None) -> TrainResult:
    """The kept checkpoint (best or last) with thresholds fitted, written (rank 0) with ``summary.json``."""
    net, history, labels, tr = sess.net, state.history, data.labels, data.train
    stop = stopping_record(cfg, state.best_epoch, len(history), state.bad)
    if state.best_net is not None and cfg.checkpoint == "best":
        net.load_state_dict(state.best_net)
    net.eval()
    thr_data = domains.pick(cfg.threshold_on, data.val, data.extra)
    thresholds = ddp.on_main(lambda: fit_model_thresholds(net, sess.std, thr_data, cfg, device))
    prov = {"command": command or " ".join(sys.argv), "config": to_dict(cfg), "dataset": str(cfg.data),
            "dataset_name": data.manifest.name, "seed": cfg.seed, "best_epoch": state.best_epoch,
            "select_metric": cfg.select_metric, "best_score": state.best_score, "versions": runtime_versions(),
            "train_clips": len(tr), "threshold_source": f"{cfg.threshold_source} on " + (
                f"'{cfg.val_split}'" if cfg.threshold_on == "held-in" else f"{cfg.threshold_on}: {list(cfg.extra_val)}"),
            "train_tag_counts": {lab: int(tr.clip_labels[:, k].sum()) for k, lab in enumerate(labels)},
            "created": utc_timestamp()}
    tagger = TaggerModel(net.cpu(), cfg.features, sess.std, labels, data.kinds, thresholds,
                         name=Path(cfg.out).name, provenance=prov)
    model_path = run_dir / "model.safetensors"
    if ddp.is_main:
        save_model(model_path, tagger)
        atomic_write_text(run_dir / "summary.json", json.dumps({
            "best_epoch": state.best_epoch, "best_score": state.best_score, "select_metric": cfg.select_metric,
            "epochs_run": len(history), **stop, "checkpoint": cfg.checkpoint, "skipped": len(data.skipped),
            "last": history[-1] if history else {},
        }, indent=1))
    ddp.barrier()  # the model file exists before any rank returns
    return TrainResult(run_dir, model_path, state.best_epoch, state.best_score, history, tagger)
