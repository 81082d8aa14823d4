"""The model family: every preset builds, shapes follow the stride, the accumulation layer is the thesis'."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.stats import norm

from clip2frame.config import from_dict
from clip2frame.errors import ConfigError
from clip2frame.models import PRESETS, AudioModelConfig, Clip2FrameNet, GaussianAccumulation, gaussian_kernel
from clip2frame.timebase import output_frames
from clip2frame.train.config import resolve_config


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("T", [1, 17, 911])
def test_presets_shapes(name, T):
    cfg = PRESETS[name].model
    net = Clip2FrameNet(cfg, 7).eval()
    out = net(torch.randn(2, cfg.n_scales, cfg.in_bands, T))
    Tp = output_frames(T, cfg.total_stride)
    assert out.frame_raw.shape == out.frame.shape == (2, 7, Tp)
    assert out.clip.shape == (2, 7)
    assert float(out.frame.detach().min()) >= 0.0 and float(out.frame_raw.detach().max()) <= 1.0


def test_thesis_best_is_thesis_geometry():
    cfg = PRESETS["thesis-best"].model
    net = Clip2FrameNet(cfg, 15)
    assert cfg.total_stride == 16 and cfg.n_scales == 6
    first = net.scales[0].net[0].conv
    assert tuple(first.weight.shape) == (32, 128, 8)  # 32 filters x (8 frames x all 128 bands)
    assert net.scales[0].net[0].pad == (4, 3)
    assert net.late[0][1].in_channels == 192 and net.late[-1].out_channels == 15
    assert cfg.sigma_init * cfg.total_stride == pytest.approx(256)


def test_gaussian_kernel_is_unnormalised_pdf():
    sigma = torch.tensor([1.5, 4.9, 16.0])
    k = gaussian_kernel(sigma, 256).numpy()
    offs = np.arange(256) - 128
    for i, s in enumerate(sigma.numpy()):
        np.testing.assert_allclose(k[i], norm.pdf(offs, scale=s), rtol=1e-5, atol=1e-9)
    # Renormalised option sums to one; the thesis' pdf does not once sigma is large against the window.
    wide = torch.tensor([200.0])
    assert gaussian_kernel(wide, 256, renormalize=True).sum().item() == pytest.approx(1.0, abs=1e-5)
    assert gaussian_kernel(wide, 256).sum().item() < 0.5


def test_accumulation_equals_zero_padded_convolution(rng):
    K, T, L = 3, 40, 32
    layer = GaussianAccumulation(K, sigma_init=2.5, kernel_frames=L, learned=False)
    x = rng.random((1, K, T)).astype(np.float32)
    y = layer(torch.from_numpy(x)).detach().numpy()[0]
    g = norm.pdf(np.arange(L) - L // 2, scale=2.5)
    ref = np.zeros((K, T))
    for t in range(T):
        for j in range(L):
            src = t + j - L // 2
            if 0 <= src < T:
                ref[:, t] += g[j] * x[0, :, src]
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-7)
    assert not layer.log_sigma.requires_grad


def test_learned_sigma_gets_gradient():
    layer = GaussianAccumulation(2, sigma_init=3.0, kernel_frames=16, learned=True)
    layer(torch.rand(1, 2, 20)).sum().backward()
    assert layer.log_sigma.grad is not None and layer.log_sigma.grad.abs().sum() > 0


def test_masked_pooling():
    cfg = replace(PRESETS["tiny"].model, accumulation="none")
    net = Clip2FrameNet(cfg, 2)
    frame = torch.tensor([[[0.2, 0.4, 0.9], [0.1, 0.3, 0.8]]])
    assert torch.allclose(net.forward_head(frame, torch.tensor([2])), torch.tensor([[0.3, 0.2]]))
    net_max = Clip2FrameNet(replace(cfg, pooling="max"), 2)
    assert torch.allclose(net_max.forward_head(frame, torch.tensor([2])), torch.tensor([[0.4, 0.3]]))


@pytest.mark.parametrize("override, key", [
    ("model.sigma_init_input_frames=-3", "model.sigma_init_input_frames"),
    ("model.dropout=1.5", "model.dropout"),
    ("model.colour=red", "model.colour"),
    ("lr=0", "lr"),
    ("crop_frames=4", "crop_frames"),
    ("features.win_sizes=[512, 0]", "win_sizes"),
])
def test_bad_config_names_the_key(override, key):
    with pytest.raises(ConfigError, match=key.split(".")[-1]):
        resolve_config(overrides=[override])


def test_zero_labels_refused():
    with pytest.raises(ConfigError, match="K"):
        Clip2FrameNet(AudioModelConfig(), 0)


def test_config_from_dict_refuses_unknown_keys():
    with pytest.raises(ConfigError, match="'early'"):
        from_dict(AudioModelConfig, {"early": 3})
