"""One model-file format for every kind (music, sound, object, action): kind checks, format versions, the
format-1 files of before (music tagger, video FCN), float16 storage."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from clip2frame.errors import ModelFileError
from clip2frame.models import io as mio
from clip2frame.models import registry
from clip2frame.tags import VIDEO_INSTRUMENTS


def _visual(kind: str = "action"):
    from clip2frame.models.visual import VisualFCN, VisualFCNConfig

    torch.manual_seed(1)
    cfg = (VisualFCNConfig.for_object if kind == "object" else VisualFCNConfig.for_action)(0.0625)
    net = VisualFCN(cfg, len(VIDEO_INSTRUMENTS)).eval()
    return mio.VisualModel(net, kind, list(VIDEO_INSTRUMENTS), np.full(9, 0.4, np.float32),
                           target={"kind": "SOT", "name": "SOT0503"} if kind == "action" else None)


def test_visual_round_trip_and_kind_checks(tmp_path):
    m = _visual("action")
    p = mio.save_model(tmp_path / "a.safetensors", m)
    meta = mio.read_metadata(p)
    assert (meta["format_version"], meta["kind"]) == (mio.FORMAT_VERSION, "action")
    back = mio.load_visual_model(p, kind="action")
    assert back.target == {"kind": "SOT", "name": "SOT0503"} and back.thresholds[0] == pytest.approx(0.4)
    x = torch.randn(2, 10, 64, 96)
    torch.testing.assert_close(back.net(x).heatmap, m.net(x).heatmap)
    with pytest.raises(ModelFileError, match="is an action model, expected object"):
        mio.load_visual_model(p, kind="object")
    with pytest.raises(ModelFileError, match="is an action model, expected music or sound"):
        mio.load_model(p)
    with pytest.raises(ModelFileError, match="is a music model, expected object or action"):
        mio.load_visual_model(registry.DEFAULT_MODEL_PATH)
    # a run directory means its model.safetensors
    (tmp_path / "run").mkdir()
    mio.save_model(tmp_path / "run" / "model.safetensors", m)
    assert mio.load_visual_model(tmp_path / "run").kind == "action"


def test_the_packaged_format_1_music_model_still_loads():
    meta = mio.read_metadata(registry.DEFAULT_MODEL_PATH)
    assert meta["kind"] == "music"
    assert mio.load_model("default").kind == "music"


def test_format_1_video_files_load(tmp_path):
    """The object/action files the video trainer wrote before the kinds (no ``net.`` prefix)."""
    from safetensors.torch import save

    m = _visual("object")
    meta = {"format": mio.LEGACY_VISUAL_FORMAT, "format_version": 1, "kind": "object",
            "model_config": {"kind": "object", "in_channels": 3, "width": 0.0625, "conv6_padding": 1,
                             "dropout": 0.5, "lrn": True, "batch_norm": False},
            "labels": list(VIDEO_INSTRUMENTS), "target": None, "version": "0", "provenance": {}}
    p = tmp_path / "old.safetensors"
    p.write_bytes(save({k: v.contiguous() for k, v in m.net.state_dict().items()},
                       metadata={"clip2frame": json.dumps(meta)}))
    back = mio.load_visual_model(p, kind="object")
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(back.net(x).heatmap, m.net(x).heatmap)


def test_newer_format_and_unknown_kind_are_refused(tmp_path):
    from safetensors.torch import save

    for meta, problem in (({"format_version": mio.FORMAT_VERSION + 1, "kind": "action"}, "newer than this"),
                          ({"format_version": 2, "kind": "lidar"}, "unknown model kind 'lidar'")):
        p = tmp_path / "x.safetensors"
        p.write_bytes(save({"net.w": torch.zeros(1)}, metadata={"clip2frame": json.dumps(meta)}))
        with pytest.raises(ModelFileError, match=problem):
            mio.read_metadata(p)


def test_float16_storage_halves_the_file_and_loads_as_float32(tmp_path):
    m = _visual("action")
    p32 = mio.save_model(tmp_path / "a32.safetensors", m)
    p16 = mio.save_model(tmp_path / "a16.safetensors", m, dtype=torch.float16)
    assert p16.stat().st_size < 0.6 * p32.stat().st_size
    back = mio.load_visual_model(p16)
    assert next(back.net.parameters()).dtype == torch.float32
    x = torch.randn(1, 10, 64, 64)
    torch.testing.assert_close(back.net(x).heatmap, m.net(x).heatmap, atol=2e-3, rtol=1e-2)


def test_registry_resolves_every_kind():
    """One registry names each kind's family, network and packaged file; the loaders go through it."""
    from clip2frame.errors import ConfigError
    from clip2frame.models.fcn import Clip2FrameNet
    from clip2frame.models.visual import VisualFCN

    assert registry.MODEL_KINDS == ("music", "sound", "object", "action")
    assert {k: registry.model_kind(k).network_type for k in registry.MODEL_KINDS} == {
        "music": Clip2FrameNet, "sound": Clip2FrameNet, "object": VisualFCN, "action": VisualFCN}
    assert registry.default_model_path("music") == registry.DEFAULT_MODEL_PATH
    assert registry.default_model_path("object").name == "video_object.safetensors"
    with pytest.raises(ConfigError, match="model kind 'speech': expected one of music, sound, object, action"):
        registry.model_kind("speech")
    cfg = registry.model_kind("object").config({"kind": "object", "in_channels": 3, "width": 0.1})
    net = registry.model_kind("object").network_type(cfg, 9)
    assert isinstance(net, VisualFCN) and net.cfg.in_channels == 3
    with pytest.raises(ConfigError):
        registry.model_kind("action").config({"no_such_field": 1})
