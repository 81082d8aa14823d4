"""Data-parallel training under ``torchrun``: process group from the environment, batch sharding, gradient sums.

``torchrun --nproc_per_node=N -m clip2frame train ...`` starts N copies of the trainer with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set. :func:`init_from_env` turns that
into a :class:`Distributed` context (``gloo`` on CPU, ``nccl`` on CUDA, one GPU per local rank); without
those variables (or with ``WORLD_SIZE=1``) it returns a context whose ``enabled`` is False, and the trainer
takes its ordinary single-process path unchanged.

How one step is split (:meth:`Distributed.backward_shard`):

* every rank draws the same global batch (same order and crops: the epoch generator is seeded from
  ``(seed, epoch)`` only) and takes a contiguous share of it (the trainer's data loader reads only that
  share: see :mod:`clip2frame.train.loader`) — rank ``r`` of ``W`` gets items
  ``[r·B // W, (r+1)·B // W)`` of the ``B = cfg.batch_size`` items, so the *global* batch stays
  ``cfg.batch_size`` whatever the number of processes (a share may be empty: a last batch of 1 item);
* each rank's loss is its mean over its own elements; it is weighted by ``n_r / n`` (its share of the
  elements the global mean runs over — clip labels, or valid frame labels for the oracle) and the gradients
  are *summed* over ranks with one all-reduce of a flat buffer. The result is the gradient of the global
  batch's mean loss, i.e. what one process computes, up to float summation order;
* the optimizer steps on every rank with the same gradients, so the weights stay identical (they are
  broadcast from rank 0 once at the start, so even a differently seeded rank starts from rank 0's weights).

Rank 0 alone validates (the scores are broadcast, so early stopping stays in step), fits thresholds, writes
``config.yaml``, ``metrics.csv``, ``train_state.pt``, ``model.safetensors`` and ``summary.json``, and shows
progress bars; other ranks log errors only. Rank 0 computes the feature cache first; the others read it.

Randomness that is per rank — dropout masks — is seeded from ``(seed, epoch, rank)`` (rank 0 keeps the
single-process seed). With dropout > 0, N processes are therefore a different (equally valid) random draw
than one; with ``model.dropout=0`` the weights after training equal the single-process ones within float
rounding. BatchNorm statistics are per rank (plain DDP behaviour, no SyncBatchNorm).

Multi-node: run the same command on every node with a shared rendezvous, e.g.
``torchrun --nnodes=2 --nproc_per_node=4 --rdzv-backend=c10d --rdzv-endpoint=HOST:29400 --rdzv-id=JOB
-m clip2frame train ...``. ``data`` must be readable on every node; ``out`` need only be writable by
global rank 0 (the others write nothing). The feature cache (``<data>/.clip2frame-cache``) is filled by
rank 0 before the others read it; on nodes that do not share ``data``'s file system the other ranks find
no cache and compute the features themselves (writes are atomic, so concurrent fills are safe, only slower).
"""
from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import torch
import torch.distributed as dist

from ..errors import ConfigError

log = logging.getLogger(__name__)

ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass
class Distributed:
    """This process' place in a data-parallel job (``enabled`` False: a single ordinary process)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    owns_group: bool = False  # we initialised the process group (and so destroy it in close())

    @property
    def enabled(self) -> bool:
        """Whether more than one process trains."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0 (the one that writes files)."""
        return self.rank == 0

    # ------------------------------------------------------------------------------------- collectives
    def barrier(self) -> None:
        """Wait for every rank (no-op in a single process)."""
        if self.enabled:
            dist.barrier()

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first (e.g. to fill a cache), then the others."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (picklable objects)."""
        if not self.enabled:
            return obj
        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def on_main(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` computed on rank 0 only, its result broadcast to every rank."""
        return self.broadcast_object(fn() if self.is_main else None)

    def broadcast_parameters(self, module: torch.nn.Module) -> None:
        """Make every rank start from rank 0's parameters and buffers."""
        if not self.enabled:
            return
        with torch.no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t.data, src=0)

    # ------------------------------------------------------------------------------------- batches
    def shard(self, n: int) -> slice:
        """This rank's contiguous share of a global batch of ``n`` items (sizes differ by at most one)."""
        return slice(self.rank * n // self.world_size, (self.rank + 1) * n // self.world_size)

    def rank_seed(self, seed: int) -> int:
        """Seed of per-rank randomness (dropout); rank 0 keeps ``seed``, so one process is unchanged."""
        return seed if self.rank == 0 else (seed * 1_000_003 + 104_729 * self.rank) % (2**31 - 1)

    def backward_shard(self, loss_fn: Callable[..., tuple[torch.Tensor, torch.Tensor]],
                       batch: Sequence[torch.Tensor | None], params: Sequence[torch.nn.Parameter], *,
                       sharded: bool = False,
                       backward: Callable[[torch.Tensor], None] | None = None) -> torch.Tensor:
        """Forward/backward of this rank's share of ``batch`` and the sum of the weighted gradients.

        Parameters
        ----------
        loss_fn : callable
            ``loss_fn(*share) -> (loss, count)``: the mean loss over the share's ``count`` elements.
        batch : tensors [B, ...] (or None)
            The global batch; each rank slices its share (:meth:`shard`). With ``sharded``, already this
            rank's share (e.g. from a rank-sharded data loader; B may be 0).
        params : parameters
            Their ``.grad`` end up holding the gradient of the global batch's mean loss.
        backward : callable, optional
            ``backward(weighted_loss)`` instead of ``weighted_loss.backward()`` (e.g. through a GradScaler,
            whose scale is the same on every rank: the summed gradients are scaled alike).

        Returns
        -------
        torch.Tensor
            The global batch's mean loss (0-d, identical on every rank), for logging.
        """
        first = batch[0]
        if first is None:
            raise ValueError("backward_shard: the first tensor of the batch is needed (its size shards it)")
        if sharded:
            share, n_share = list(batch), int(first.shape[0])
        else:
            sl = self.shard(int(first.shape[0]))
            share, n_share = [None if t is None else t[sl] for t in batch], sl.stop - sl.start
        device = first.device
        params = [p for p in params if p.requires_grad]
        if n_share > 0:
            loss, count = loss_fn(*share)
            count = count.detach().to(device=device, dtype=torch.float64)
        else:  # nothing to do on this rank for this (small, last) batch; it still joins the collectives
            loss, count = None, torch.zeros((), device=device, dtype=torch.float64)
        stats = torch.stack([count, (loss.detach().double() * count) if loss is not None else count * 0])
        dist.all_reduce(stats)
        total, loss_sum = stats[0].clamp_min(1.0), stats[1]
        if loss is not None:
            weighted = loss * (count / total).to(loss.dtype)
            weighted.backward() if backward is None else backward(weighted)
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
        dist.all_reduce(flat)  # SUM: the weights above make it the global mean's gradient
        offset = 0
        for p in params:
            n = p.numel()
            p.grad = flat[offset:offset + n].view_as(p).clone()
            offset += n
        return (loss_sum / total).float()

    # ------------------------------------------------------------------------------------- lifecycle
    def device(self, device: torch.device) -> torch.device:
        """The device of this rank: ``cuda:LOCAL_RANK`` on CUDA, else ``device`` unchanged."""
        if self.enabled and device.type == "cuda":
            dev = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(dev)
            return dev
        return device

    def close(self) -> None:
        """Destroy the process group if this object created it."""
        if self.enabled and self.owns_group:
            if dist.is_initialized():
                dist.destroy_process_group()
            self.owns_group = False


def env_world() -> tuple[int, int, int] | None:
    """(rank, world_size, local_rank) from torchrun's variables, or None outside torchrun."""
    if not all(k in os.environ for k in ENV_VARS):
        return None
    try:
        rank, world, local = (int(os.environ[k]) for k in ENV_VARS)
    except ValueError:
        raise ConfigError(f"environment RANK/WORLD_SIZE/LOCAL_RANK: not integers "
                          f"({', '.join(f'{k}={os.environ[k]!r}' for k in ENV_VARS)})") from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ConfigError(f"environment RANK={rank} WORLD_SIZE={world} LOCAL_RANK={local}: impossible values")
    return rank, world, local


def init_from_env(device: torch.device) -> Distributed:
    """The process group of a ``torchrun`` job (``gloo`` on CPU, ``nccl`` on CUDA), or a single process.

    ``device`` is the trainer's resolved device; with CUDA each rank uses GPU ``LOCAL_RANK``. A process
    group someone else initialised is used as is (and left open).
    """
    world = env_world()
    if world is None or world[1] == 1:
        return Distributed()
    rank, size, local = world
    backend = "nccl" if device.type == "cuda" else "gloo"
    ctx = Distributed(rank, size, local, backend)
    if dist.is_initialized():
        ctx.backend = dist.get_backend()
        return ctx
    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(k)]
    if missing:
        raise ConfigError(f"environment {'/'.join(missing)}: not set although WORLD_SIZE={size} (start "
                          f"distributed training with torchrun, which sets them)")
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise ConfigError(f"environment LOCAL_RANK={local}: only {torch.cuda.device_count()} CUDA device(s) "
                              f"on this node (use --nproc_per_node <= the GPU count)")
        torch.cuda.set_device(local)
    dist.init_process_group(backend=backend)  # env:// — MASTER_ADDR/PORT from torchrun
    ctx.owns_group = True
    if not ctx.is_main:
        # every rank does the same work; one copy of the log (rank 0's) is enough
        logging.getLogger("clip2frame").setLevel(logging.ERROR)
    log.info("distributed training: %d processes, backend %s", size, backend)
    return ctx
