"""The model card: an optional field of the model file, written into an existing file, shown by inspect."""
from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from clip2frame.cli import main
from clip2frame.errors import ConfigError
from clip2frame.models.io import check_card, load_model, read_metadata, save_model, write_card
from clip2frame.models.registry import DEFAULT_MODEL_PATH

from test_predict import _tagger

CARD = {
    "intended_use": "Tests only.",
    "training_data": "Nothing: random weights.",
    "held_out_results": [{"data": "noise", "metrics": {"frame_macro_auc": 0.5}, "source": "by construction"}],
    "known_limits": ["Detects nothing."],
}


@pytest.fixture
def model_file(tmp_path):
    return save_model(tmp_path / "m.safetensors", _tagger(K=3))


def test_files_without_a_card_load_and_a_card_round_trips(model_file, tmp_path):
    assert "card" not in read_metadata(model_file)  # the format of files written before the card
    assert load_model(model_file).card is None
    before = load_file(str(model_file))
    out = write_card(model_file, CARD, out=tmp_path / "carded.safetensors")
    assert "card" not in read_metadata(model_file)  # --out leaves the original alone
    assert load_model(out).card == CARD
    after = load_file(str(out))
    assert before.keys() == after.keys() and all((before[k] == after[k]).all() for k in before)
    meta_a, meta_b = read_metadata(model_file), read_metadata(out)
    assert {k: v for k, v in meta_b.items() if k != "card"} == meta_a
    # saving a loaded model keeps its card
    assert load_model(save_model(tmp_path / "again.safetensors", load_model(out))).card == CARD


@pytest.mark.parametrize("change, problem", [
    ({"known_limits": None}, "lacks known_limits"),
    ({"known_limits": "one string"}, "list of sentences"),
    ({"held_out_results": [{"data": "x", "metrics": {"auc": "high"}, "source": "y"}]}, r"held_out_results\[0\]"),
    ({"held_out_results": [{"data": "x", "metrics": {"auc": 0.7}}]}, r"held_out_results\[0\]"),
])
def test_bad_cards_are_refused(change, problem):
    with pytest.raises(ConfigError, match=problem):
        check_card({**CARD, **change})
    with pytest.raises(ConfigError, match="mapping"):
        check_card(["not", "a", "card"])


def test_inspect_writes_and_prints_the_card(model_file, tmp_path, capsys):
    card_yaml = tmp_path / "card.yaml"
    card_yaml.write_text(json.dumps(CARD))  # JSON is YAML
    assert main(["inspect", "--model", str(model_file)]) == 0
    assert "model card: none stored" in capsys.readouterr().out
    assert main(["inspect", "--model", str(model_file), "--write-card", str(card_yaml)]) == 0
    out = capsys.readouterr().out
    assert "MODEL CARD" in out and "Detects nothing." in out and "frame_macro_auc 0.5 (by construction)" in out
    assert main(["inspect", "--model", str(model_file), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["card"] == CARD
    bad = tmp_path / "bad.yaml"
    bad.write_text("intended_use: x\n")
    assert main(["inspect", "--model", str(model_file), "--write-card", str(bad)]) == 2
    assert "bad.yaml: model card lacks training_data" in capsys.readouterr().err
    assert load_model(model_file).card == CARD  # a refused card changes nothing


def test_the_shipped_default_model_carries_its_card_from_docs(capsys):
    """The card in the shipped file is docs/model_cards/default_model.yaml, with held-out-timbre figures."""
    import yaml
    from pathlib import Path

    if not DEFAULT_MODEL_PATH.is_file():
        pytest.skip("no default model in this checkout")
    doc = Path(__file__).resolve().parents[1] / "docs" / "model_cards" / "default_model.yaml"
    card = load_model("default").card
    assert card is not None and check_card(card)
    assert card == yaml.safe_load(doc.read_text())   # re-run `inspect --write-card` after editing the card
    held_out = [r for r in card["held_out_results"] if "held-out" in r["data"] or "heldout" in r["data"]]
    assert held_out and all("all_positive_macro_f1" in r["metrics"] for r in held_out)
    assert main(["inspect", "--model", "default"]) == 0
    out = capsys.readouterr().out
    assert f"{held_out[0]['metrics']['frame_macro_auc']}" in out
