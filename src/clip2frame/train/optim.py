"""The one optimiser factory of every trainer (the audio tagger of :mod:`clip2frame.train.trainer` and the
video models of :mod:`clip2frame.video.training.training`).

:func:`make_optimizer` builds SGD (with momentum), Adam or Adagrad over parameters or parameter groups
(every parameter given, as given: the caller leaves frozen ones out, so optimiser states stay resumable). :func:`audio_param_groups` is the audio
network's grouping: the Gaussians' log sigma at ``lr · sigma_lr_mult``.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import torch

from ..errors import ConfigError

#: Optimiser name -> class.
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adagrad": torch.optim.Adagrad,
}


def make_optimizer(params: Iterable[Any], *, name: str, lr: float, momentum: float | None = None,
                   weight_decay: float | None = None) -> torch.optim.Optimizer:
    """An optimiser ``name`` (one of :data:`OPTIMIZERS`) at learning rate ``lr``.

    Parameters
    ----------
    params : tensors, or parameter groups (dicts with ``params`` and their own options).
    name : ``sgd``, ``adam`` or ``adagrad``.
    lr : learning rate.
    momentum : SGD's momentum (the adaptive optimisers have none: ignored there); ``None``: torch's default.
    weight_decay : L2 penalty; ``None``: torch's default.

    Raises
    ------
    ConfigError
        An unknown optimiser name.
    """
    try:
        cls = OPTIMIZERS[name]
    except KeyError:
        raise ConfigError(f"config key 'optimizer': expected one of {', '.join(OPTIMIZERS)}, got {name!r}") from None
    kw: dict[str, Any] = {"lr": lr}
    if momentum is not None and cls is torch.optim.SGD:
        kw["momentum"] = momentum
    if weight_decay is not None:
        kw["weight_decay"] = weight_decay
    return cls(params, **kw)


def audio_param_groups(net: torch.nn.Module, *, lr: float, sigma_lr_mult: float) -> list[dict[str, Any]]:
    """Parameter groups of the audio network: the Gaussians' log sigma at ``lr · sigma_lr_mult``, the rest at
    ``lr`` (one group when the multiplier is 1 or there is no Gaussian, as before the switch existed:
    resumable states)."""
    sigma = [p for n, p in net.named_parameters() if n.endswith("log_sigma")]
    rest = [p for n, p in net.named_parameters() if not n.endswith("log_sigma")]
    if not sigma or sigma_lr_mult == 1.0:
        return [{"params": list(net.parameters())}] if sigma else [{"params": rest}]
    return [{"params": rest}, {"params": sigma, "lr": lr * sigma_lr_mult}]
