"""The corpus driver (``clip2frame.data.synth.driver``) that the music, everyday and video renderers share:
records in task order whatever the number of workers, partial manifests every PARTIAL_EVERY records but
never for the last, per-record hooks before a record is kept, and the output directory's claim."""
from __future__ import annotations

import json

import pytest

from clip2frame.data.synth.driver import PARTIAL_EVERY, claim_output_dir, clip_id_for, drive, split_tasks
from clip2frame.errors import ConfigError


def test_records_in_task_order_in_this_process_and_in_workers():
    tasks = [(-1) ** k * k for k in range(7)]
    one = drive(tasks, abs, jobs=1, desc="t", progress=False)
    two = drive(tasks, abs, jobs=2, desc="t", progress=False)
    assert one == two == [abs(k) for k in tasks]


@pytest.mark.parametrize("n, partial_sizes", [(2 * PARTIAL_EVERY + 10, [PARTIAL_EVERY, 2 * PARTIAL_EVERY]),
                                              (2 * PARTIAL_EVERY, [PARTIAL_EVERY]), (3, [])])
def test_partial_manifests_every_n_records_but_not_for_the_last(n, partial_sizes):
    seen: list[list[dict]] = []
    records = drive([{"k": k} for k in range(n)], dict, jobs=1, desc="t", progress=False,
                    checkpoint=lambda recs: seen.append(list(recs)),
                    on_record=lambda r: r.update(hooked=r["k"] * 2))
    assert [len(s) for s in seen] == partial_sizes
    assert all(s == records[:len(s)] for s in seen)
    assert [r["hooked"] for r in records] == [2 * k for k in range(n)]  # the hook ran before the checkpoint saw it


def test_split_tasks_and_clip_ids():
    assert split_tasks({"train": 2, "test": 1}, "cfg") == [("train", 0, "cfg"), ("train", 1, "cfg"), ("test", 0, "cfg")]
    assert clip_id_for("validation", 7) == "validation_00007"


def test_an_output_dir_holds_one_render(tmp_path):
    out = tmp_path / "corpus"
    claim_output_dir(out, {"seed": 1, "sr": 16000})
    claim_output_dir(out, {"seed": 1, "sr": 16000})  # resuming with the same settings
    assert json.loads((out / ".synth-run.json").read_text()) == {"seed": 1, "sr": 16000}
    with pytest.raises(ConfigError, match=r"corpus: holds a render with other settings \(seed differ\)"):
        claim_output_dir(out, {"seed": 2, "sr": 16000})
