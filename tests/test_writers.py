"""Per-file output formats: exact layout, round trips, the sed_scores_eval reader, events post-processing."""
from __future__ import annotations

import re
import sys
import types

import numpy as np
import pytest

from clip2frame.errors import Clip2FrameError, ConfigError, OutputError
from clip2frame.results import provenance, writers
from clip2frame.results.activations import FrameActivations
from clip2frame.results.formats import FORMATS, MAP_FORMATS, SUFFIXES
from clip2frame.results.readers import read_events_tsv, read_scores_tsv
from clip2frame.results.writers import render_events_tsv, write_outputs

D = 0.512
# tag a: active frames 0-1, 3, 6-8 (threshold 0.5); tag b: active frame 4 only (threshold 0.3)
PROBS_A = [0.9, 0.9, 0.1, 0.8, 0.1, 0.1, 0.7, 0.7, 0.7, 0.1]
PROBS_B = [0.2, 0.25, 0.2, 0.1, 0.35, 0.1, 0.2, 0.1, 0.1, 0.1]


def _acts(source: str | None = "/data/music/song.flac", last: float = 9 * D + 0.3) -> FrameActivations:
    probs = np.stack([PROBS_A, PROBS_B], axis=1)
    bounds = np.r_[np.arange(10) * D, last]
    return FrameActivations(["a", "b"], probs, bounds, [0.5, 0.3], {"a": "inst", "b": "tempo"}, source,
                            {"model": "tiny-test", "model_version": "0.3"})


def _sed_scores_eval_read():
    """sed_scores_eval's reader. Its import chain (sed_eval -> dcase_util) imports ``pkg_resources``,
    which setuptools >= 81 no longer ships; dcase_util only uses it in version-report helpers, so an
    empty stand-in module is enough to import the reader."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        sys.modules.setdefault("pkg_resources", types.ModuleType("pkg_resources"))
    from sed_scores_eval.base_modules.io import read_sed_scores

    return read_sed_scores


def test_scores_tsv_exact_layout(tmp_path):
    paths = write_outputs(_acts(), tmp_path, formats=["scores"])
    assert list(paths) == ["scores"] and paths["scores"] == tmp_path / "song.scores.tsv"
    lines = paths["scores"].read_text().splitlines()
    assert lines[0] == "onset\toffset\ta\tb"
    assert len(lines) == 11
    assert lines[1] == "0.000\t0.512\t0.9000\t0.2000"
    assert lines[10] == "4.608\t4.908\t0.1000\t0.1000"
    row = re.compile(r"^\d+\.\d{3}\t\d+\.\d{3}\t\d\.\d{4}\t\d\.\d{4}$")
    assert all(row.match(line) for line in lines[1:])


def test_scores_tsv_read_by_sed_scores_eval_and_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    T, labels = 37, ["piano", "violin", "drums", "fast"]
    bounds = np.r_[np.arange(T) * D, (T - 1) * D + 0.2]
    acts = FrameActivations(labels, rng.random((T, 4)), bounds, [0.5] * 4, source="x/take 1.wav")
    path = write_outputs(acts, tmp_path, formats="scores")["scores"]
    df = _sed_scores_eval_read()(path)
    assert list(df.columns) == ["onset", "offset", *labels]
    np.testing.assert_allclose(df[labels].to_numpy(), acts.probs, atol=5e-5)
    np.testing.assert_allclose(df["onset"].to_numpy(), bounds[:-1], atol=5e-4)
    np.testing.assert_allclose(df["offset"].to_numpy(), bounds[1:], atol=5e-4)

    back = read_scores_tsv(path, thresholds=[0.1, 0.2, 0.3, 0.4])
    assert back.labels == labels
    assert back.probs.shape == (T, 4) and back.probs.dtype == np.float32
    np.testing.assert_allclose(back.probs, acts.probs, atol=5e-5)
    np.testing.assert_allclose(back.boundaries, bounds, atol=5e-4)
    np.testing.assert_allclose(back.thresholds, [0.1, 0.2, 0.3, 0.4])


def test_last_frame_shorter_than_a_millisecond_keeps_positive_length(tmp_path):
    # audio ends 0.4 ms after the last frame's onset: rounding must not produce a zero-length frame
    acts = _acts(last=9 * D + 0.0004)
    path = write_outputs(acts, tmp_path, formats=["scores"])["scores"]
    assert path.read_text().splitlines()[-1].startswith("4.608\t4.609\t")
    df = _sed_scores_eval_read()(path)
    assert (df["offset"] > df["onset"]).all()


def test_frame_resolution_rows_keep_three_decimals(tmp_path):
    T = 100
    bounds = np.arange(T + 1) * 0.032
    acts = FrameActivations(["a"], np.full((T, 1), 0.25), bounds, [0.5])
    path = write_outputs(acts, tmp_path, formats=["scores"], stem="f")["scores"]
    lines = path.read_text().splitlines()
    assert lines[1:4] == ["0.000\t0.032\t0.2500", "0.032\t0.064\t0.2500", "0.064\t0.096\t0.2500"]
    _sed_scores_eval_read()(path)


def test_events_tsv_uses_per_tag_thresholds(tmp_path):
    path = write_outputs(_acts(), tmp_path, formats=["events"])["events"]
    assert path.name == "song.events.tsv"
    assert path.read_text().splitlines() == [
        "filename\tonset\toffset\tevent_label",
        "song.flac\t0.000\t1.024\ta",
        "song.flac\t1.536\t2.048\ta",
        "song.flac\t2.048\t2.560\tb",
        "song.flac\t3.072\t4.608\ta",
    ]
    assert read_events_tsv(path)[0] == ("song.flac", 0.0, 1.024, "a")


@pytest.mark.parametrize("min_duration, merge_gap, expected_a", [
    (0.0, 0.0, [(0.0, 1.024), (1.536, 2.048), (3.072, 4.608)]),
    (0.0, 0.6, [(0.0, 2.048), (3.072, 4.608)]),          # the 0.512 s gap merges, the 1.024 s one not
    (1.0, 0.0, [(0.0, 1.024), (3.072, 4.608)]),          # the 0.512 s event is dropped
    (1.6, 0.6, [(0.0, 2.048)]),                          # merged first, then the 1.536 s event dropped
])
def test_events_min_duration_and_merge_gap(min_duration, merge_gap, expected_a):
    text = render_events_tsv(_acts(), filename="song.flac", min_duration=min_duration,
                             merge_gap=merge_gap).decode()
    rows = [r.split("\t") for r in text.splitlines()[1:]]
    assert [(float(r[1]), float(r[2])) for r in rows if r[3] == "a"] == expected_a


def test_audacity_labels_no_header_six_decimals(tmp_path):
    path = write_outputs(_acts(), tmp_path, formats=["audacity"], merge_gap=0.6)["audacity"]
    assert path.name == "song.audacity.txt"
    assert path.read_text().splitlines() == [
        "0.000000\t2.048000\ta",
        "2.048000\t2.560000\tb",
        "3.072000\t4.608000\ta",
    ]


def test_npz_contents(tmp_path):
    acts = _acts()
    path = write_outputs(acts, tmp_path, formats=["npz"], stem="custom")["npz"]
    assert path == tmp_path / "custom.npz"
    with np.load(path) as z:
        assert set(z.files) == {"probs", "boundaries", "labels", "thresholds"}
        assert z["probs"].dtype == np.float32 and z["probs"].shape == (10, 2)
        np.testing.assert_array_equal(z["probs"], acts.probs)
        np.testing.assert_array_equal(z["boundaries"], acts.boundaries)
        assert z["labels"].tolist() == ["a", "b"]
        np.testing.assert_allclose(z["thresholds"], [0.5, 0.3])


def test_jams_tag_open_with_model_metadata(tmp_path):
    jams = pytest.importorskip("jams")
    path = write_outputs(_acts(), tmp_path, formats=["jams"])["jams"]
    jam = jams.load(str(path), validate=True)
    ann = jam.search(namespace="tag_open")[0]
    assert ann.annotation_metadata.annotator["name"] == "tiny-test"
    assert ann.annotation_metadata.version == "0.3"
    obs = [(round(o.time, 3), round(o.time + o.duration, 3), o.value) for o in ann.data]
    assert obs == [(0.0, 1.024, "a"), (1.536, 2.048, "a"), (2.048, 2.56, "b"), (3.072, 4.608, "a")]
    assert ann.data[0].confidence == pytest.approx(0.9, abs=1e-6)
    assert jam.file_metadata.duration == pytest.approx(9 * D + 0.3)


def test_jams_missing_package_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "jams", None)  # import jams -> ImportError
    with pytest.raises(Clip2FrameError, match=r"clip2frame\[jams\]"):
        write_outputs(_acts(), tmp_path, formats=["scores", "jams"])
    assert list(tmp_path.iterdir()) == []  # the scores file written first was removed again


def test_all_formats_via_frame_activations_save(tmp_path):
    formats = [f for f in FORMATS if f not in MAP_FORMATS and (f != "jams" or _has_jams())]  # maps: video
    paths = _acts().save(tmp_path / "out", formats=formats)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        "song" + SUFFIXES[f] for f in formats)
    assert all(p.exists() for p in paths.values())


def _has_jams() -> bool:
    try:
        import jams  # noqa: F401
    except ImportError:
        return False
    return True


def test_unknown_format_and_negative_durations_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown output format 'mp3'"):
        write_outputs(_acts(), tmp_path, formats="scores,mp3")
    with pytest.raises(ConfigError):
        write_outputs(_acts(), tmp_path, min_duration=-1)
    assert list(tmp_path.iterdir()) == []


def test_write_error_leaves_no_partial_outputs(tmp_path, monkeypatch):
    real = writers.atomic_write_bytes

    def failing(path, data):
        if str(path).endswith(".events.tsv"):
            raise OSError(28, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(writers, "atomic_write_bytes", failing)
    with pytest.raises(OutputError, match=r"song\.events\.tsv: cannot write \(No space left on device\)"):
        write_outputs(_acts(), tmp_path, formats=["scores", "events"])
    assert list(tmp_path.iterdir()) == []


def test_empty_activations_and_default_stem(tmp_path):
    acts = FrameActivations(["a"], np.zeros((0, 1)), np.zeros(1), [0.5])
    paths = write_outputs(acts, tmp_path, formats=["scores", "events", "audacity"])
    assert paths["scores"].name == "activations.scores.tsv"
    assert paths["scores"].read_text() == "onset\toffset\ta\n"
    assert paths["events"].read_text() == "filename\tonset\toffset\tevent_label\n"
    assert paths["audacity"].read_text() == ""
    assert read_scores_tsv(paths["scores"]).n_frames == 0


def test_read_scores_tsv_rejects_other_files(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text("filename\tonset\toffset\tevent_label\n")
    with pytest.raises(OutputError, match="not a scores.tsv"):
        read_scores_tsv(p)
    with pytest.raises(OutputError, match="cannot read"):
        read_scores_tsv(tmp_path / "missing.tsv")


# --------------------------------------------------------------------------------------------- provenance
def _prov(source="/data/music/song.flac"):
    from clip2frame.results.provenance import ModelIdentity, Provenance

    return Provenance(ModelIdentity("tiny-test", "0.3", "ab" * 32, "music"), source, "cd" * 32, 1234, "9.9")


def test_provenance_in_sidecar_npz_and_jams_written_last(tmp_path, monkeypatch):
    """Defect #27.1: the outputs recorded no model. The sidecar, written after every other output, the NPZ
    field and the JAMS metadata carry the same provenance; the TSVs stay plain sed_scores_eval/DCASE files."""
    from clip2frame.results import provenance

    from clip2frame import fileio

    order = []
    real = fileio.atomic_write_bytes

    def recording(p, data):
        order.append(p.name)
        real(p, data)

    monkeypatch.setattr(writers, "atomic_write_bytes", recording)
    monkeypatch.setattr(provenance, "atomic_write_bytes", recording)  # the sidecar's writer
    formats = ["scores", "events", "npz"] + (["jams"] if _has_jams() else [])
    paths = write_outputs(_acts(), tmp_path, formats=formats, provenance=_prov())
    assert paths["meta"] == tmp_path / "song.meta.json" and paths["meta"].is_file()
    want = _prov().to_dict()
    side = __import__("json").loads(paths["meta"].read_text())
    assert side["provenance"] == want and side["source_name"] == "song.flac"
    assert side["outputs"] == [p.name for f, p in paths.items() if f != "meta"]
    assert side["thresholds"] == {"a": 0.5, "b": 0.3}
    assert order == [p.name for p in paths.values()] and order[-1] == "song.meta.json"  # written last
    with np.load(paths["npz"], allow_pickle=False) as z:
        assert provenance.from_npz_field(z["provenance"]).to_dict() == want
    if _has_jams():
        import jams

        ann = jams.load(str(paths["jams"]), validate=True).search(namespace="tag_open")[0]
        assert ann.annotation_metadata.annotator["weights_sha256"] == "ab" * 32
        assert ann.sandbox["provenance"] == want
    for f in ("scores", "events"):
        assert not any(line.startswith("#") for line in paths[f].read_text().splitlines())
    df = _sed_scores_eval_read()(paths["scores"])
    assert list(df.columns) == ["onset", "offset", "a", "b"]
    assert provenance.read_sidecar(paths["meta"]) == _prov()


def test_sidecar_write_failure_removes_the_other_outputs(tmp_path, monkeypatch):
    from clip2frame.results import writers as w

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(w, "write_sidecar", boom)
    with pytest.raises(OutputError, match="No space left"):
        write_outputs(_acts(), tmp_path, formats=["scores", "events"], provenance=_prov())
    assert list(tmp_path.iterdir()) == []


NASTY_NAMES = ["tab\there.wav", "new\nline.wav", "back\\slash.wav", 'quo"te\'s.wav', "ünïcødé 音楽.wav",
               "-leading-dash.wav", "  spaces  in name .wav", "cr\rret.wav", "\\t literal.wav", "mix\t\\n\n.wav"]


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_events_filename_column_round_trips_any_name(tmp_path, name):
    """Defect #27.2: a tab or newline in a name broke the events file (and every re-run). The filename
    column is escaped, the one reader undoes it, and the row stays four columns."""
    paths = write_outputs(_acts(source=f"/in/{name}"), tmp_path, formats=["events"], stem="x")
    lines = paths["events"].read_bytes().decode("utf-8").split("\n")
    assert lines[-1] == "" and all(len(ln.split("\t")) == 4 for ln in lines[:-1])
    rows = read_events_tsv(paths["events"])
    assert rows and all(r[0] == name for r in rows)
    assert writers.unescape_field(writers.escape_field(name)) == name


def test_escape_is_identity_for_plain_names_and_handles_undecodable_bytes():
    assert writers.escape_field("song (live) 'take 2'.wav") == "song (live) 'take 2'.wav"
    raw = b"caf\xe9.wav".decode("utf-8", "surrogateescape")  # a Latin-1 name on a UTF-8 file system
    esc = writers.escape_field(raw)
    assert esc == "caf\\xe9.wav" and esc.encode("utf-8") and writers.unescape_field(esc) == raw


def test_events_of_an_older_clip2frame_with_a_tab_in_the_name_are_read(tmp_path):
    p = tmp_path / "old.events.tsv"
    p.write_text("filename\tonset\toffset\tevent_label\ntab\there.wav\t0.000\t1.024\tpiano\n")
    assert read_events_tsv(p) == [("tab\there.wav", 0.0, 1.024, "piano")]
