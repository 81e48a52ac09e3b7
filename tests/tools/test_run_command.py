"""`track run` end to end on small sequences: results, evaluation, features from .npy, video, jobs."""
from __future__ import annotations

import json

import cv2
import numpy as np

from tools.cli import main
from tools.io.motformat import read_mot_file, write_npy_detections
from tools.io.sequence import Sequence


def test_sort_run_writes_results_and_evaluates(tiny_root, tmp_path, capsys):
    res = tmp_path / "results"
    assert main(["run", "--seq", "TINY-01", "--data-root", str(tiny_root), "--tracker", "sort",
                 "--results-root", str(res), "--quiet"]) == 0
    out = capsys.readouterr().out
    rows = read_mot_file(res / "sort" / "data" / "TINY-01.txt", "results")
    assert set(rows.data[:, 1].astype(int)) == {1, 2}
    summary = json.loads((res / "sort" / "summary.json").read_text())
    assert summary["TINY-01"]["FN"] > 0  # SORT misses the second person when its detection drops
    assert "COMBINED" in out and "IDF1" in out
    record = json.loads((res / "sort" / "run.json").read_text())
    assert record["command"][:2] == ["track", "run"] and record["config"]["tracker"] == "sort"


def test_deepsort_uses_features_carried_by_npy_detections(tiny_root, tmp_path):
    seq = Sequence.open(tiny_root / "train" / "TINY-01")
    det = seq.detections()
    feats = np.where(det.data[:, 2:3] < 100, [[1.0, 0.0]], [[0.0, 1.0]]).astype(np.float32)
    npy = tmp_path / "TINY-01.npy"
    write_npy_detections(npy, det.data, feats)
    res = tmp_path / "results"
    args = ["run", "--seq", "TINY-01", "--data-root", str(tiny_root), "--detections", str(npy),
            "--results-root", str(res), "--quiet", "--no-eval", "--n-init", "2"]
    assert main(args) == 0
    rows = read_mot_file(res / "deepsort-auto" / "data" / "TINY-01.txt", "results").data
    # person 2 misses frame 3 only; DeepSORT keeps the same ID across the gap
    right = rows[rows[:, 2] > 150]
    assert len(set(right[:, 1])) == 1 and len(right) >= 4


def test_save_video_draws_every_frame(tiny_root, tmp_path):
    res = tmp_path / "results"
    assert main(["run", "--seq", "TINY-01", "--data-root", str(tiny_root), "--tracker", "deepsort",
                 "--appearance", "hist", "--save-video", "--results-root", str(res), "--quiet",
                 "--no-eval"]) == 0
    cap = cv2.VideoCapture(str(res / "deepsort-hist" / "video" / "TINY-01.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 6
    assert not list((res / "deepsort-hist" / "video").glob(".*"))  # no temporary file left


def test_all_with_jobs_skips_finished_sequences_unless_forced(tmp_path, capsys):
    from tests.conftest import write_sequence

    root = tmp_path / "data"
    for name in ("A-01", "B-01", "C-01"):
        write_sequence(root / "train", name, images=False)
    res = tmp_path / "results"
    base = ["run", "--all", "--data-root", str(root), "--tracker", "sort", "--results-root", str(res),
            "--quiet", "--no-eval"]
    assert main(base + ["--jobs", "2"]) == 0
    done = sorted(p.name for p in (res / "sort" / "data").iterdir())
    assert done == ["A-01.txt", "B-01.txt", "C-01.txt"]
    (res / "sort" / "data" / "B-01.txt").unlink()
    capsys.readouterr()
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "skipping 2 finished" in out and "B-01:" in out and "A-01:" not in out
    assert main(base + ["--force"]) == 0
    assert "A-01:" in capsys.readouterr().out


def test_descriptor_needs_frames(tmp_path, capsys):
    from tests.conftest import write_sequence

    write_sequence(tmp_path / "data", "NOIMG-01", images=False)
    code = main(["run", "--seq", "NOIMG-01", "--data-root", str(tmp_path / "data"), "--appearance",
                 "hist", "--results-root", str(tmp_path / "r"), "--quiet"])
    assert code == 2 and "has no frames" in capsys.readouterr().err


def test_unknown_appearance_is_a_clean_error(tiny_root, tmp_path, capsys):
    code = main(["run", "--seq", "TINY-01", "--data-root", str(tiny_root), "--appearance", "nope",
                 "--results-root", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "unknown appearance descriptor 'nope'" in err and "hist" in err


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_failed_rerun_leaves_the_experiment_as_it_was(tiny_root, tmp_path, capsys):
    res = tmp_path / "results"
    base = ["run", "--seq", "TINY-01", "--data-root", str(tiny_root), "--appearance", "hist",
            "--results-root", str(res), "--quiet"]
    assert main(base) == 0
    before = _files(res)
    assert {"deepsort-hist/run.json", "deepsort-hist/summary.json"} <= {str(p) for p in before}
    bad = tmp_path / "bad.txt"
    bad.write_text("1,-1,10,20\n")
    capsys.readouterr()
    assert main(base + ["--detections", str(bad)]) == 2
    assert f"{bad}:1:" in capsys.readouterr().err
    assert _files(res) == before  # run.json still describes the results beside it
    assert main(base + ["--detections", str(bad), "--experiment", "new"]) == 2
    assert main(base + ["--appearance", "nope", "--experiment", "new2"]) == 2
    assert main(["run", "--seq", "TINY-01", "--data-root", str(tiny_root), "--appearance", "hist",
                 "--results-root", str(tmp_path / "fresh" / "results"), "--detections", str(bad)]) == 2
    assert sorted(p.name for p in res.iterdir()) == ["deepsort-hist"] and not (tmp_path / "fresh").exists()


def test_a_run_that_fails_mid_way_before_any_result_puts_run_json_back(tiny_root, tmp_path, capsys):
    import os

    res = tmp_path / "results"
    base = ["run", "--seq", "TINY-01", "--data-root", str(tiny_root), "--appearance", "hist",
            "--results-root", str(res), "--quiet", "--no-eval", "--strict"]
    assert main(base) == 0
    before = _files(res)
    os.remove(tiny_root / "train" / "TINY-01" / "img1" / "000004.jpg")
    assert main(base + ["--max-age", "5"]) == 2  # another config: run.json would change
    assert _files(res) == before
    assert main(base + ["--experiment", "other"]) == 2
    assert not (res / "other").exists()


def test_the_default_name_of_a_checkpoint_run_is_a_plain_folder_name():
    from pathlib import Path

    from tools.track.experiment import experiment_name
    from tools.track.runner import RunConfig

    names = {spec: experiment_name(RunConfig(appearance=spec)) for spec in (
        "fmvae:results/demo/models/fmvae/checkpoint.pt", "fmvae:runs/my run/checkpoint.pt",
        "onnx:exported/net.onnx", "vhp-vae:a/b:c.pt", "hist")}
    assert names == {"fmvae:results/demo/models/fmvae/checkpoint.pt": "deepsort-fmvae-demo",
                     "fmvae:runs/my run/checkpoint.pt": "deepsort-fmvae-my-run",
                     "onnx:exported/net.onnx": "deepsort-onnx-net", "vhp-vae:a/b:c.pt": "deepsort-vhp-vae-b-c",
                     "hist": "deepsort-hist"}
    assert experiment_name(RunConfig(tracker="sort", appearance="hist")) == "sort"


def test_motion_only_has_one_name_and_the_summary_says_what_it_counts(tiny_root, tmp_path, capsys):
    from tools.report.inputs import load_runs

    res = tmp_path / "results"
    for extra in ([], ["--appearance", "none"]):
        assert main(["run", "--seq", "TINY-01", "--data-root", str(tiny_root), "--results-root", str(res),
                     "--quiet", "--no-eval", *extra]) == 0
    assert [p.name for p in res.iterdir()] == ["deepsort-motion"]
    out = capsys.readouterr().out
    rows = read_mot_file(res / "deepsort-motion" / "data" / "TINY-01.txt", "results").data
    assert f"TINY-01: 6 frames, 11 detections in, {len(rows)} track boxes out (2 tracks)" in out
    assert "boxes," not in out
    assert [r.label for r in load_runs(res, None)] == ["DeepSORT motion-only"]


def _mixed_root(tmp_path):
    from tests.conftest import write_sequence

    root = tmp_path / "data"
    write_sequence(root, "A-01")
    write_sequence(root, "B-01", images=False)
    write_sequence(root, "C-01")
    return root


def test_all_with_a_descriptor_skips_sequences_without_frames(tmp_path, capsys):
    root = _mixed_root(tmp_path)
    res = tmp_path / "results"
    args = ["run", "--all", "--data-root", str(root), "--appearance", "hist", "--results-root", str(res), "--quiet"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert sorted(p.name for p in (res / "deepsort-hist" / "data").iterdir()) == ["A-01.txt", "C-01.txt"]
    assert "B-01: skipped, no frames" in err and "skipped 1 without frames: B-01" in err
    assert "COMBINED" in out  # the others are evaluated
    assert json.loads((res / "deepsort-hist" / "run.json").read_text())["no_frames"] == ["B-01"]
    assert main(args + ["--strict", "--experiment", "strict"]) == 2
    assert "B-01: the sequence has no frames" in capsys.readouterr().err and not (res / "strict").exists()
    assert main(["run", "--all", "--data-root", str(root), "--results-root", str(res), "--quiet", "--no-eval"]) == 0
    assert len(list((res / "deepsort-motion" / "data").iterdir())) == 3  # motion needs no frames


def test_progress_bars_only_in_a_terminal(tmp_path):
    """Into a log file: no escape codes or carriage returns, one line a sequence."""
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import write_sequence

    for name in ("A-01", "B-01"):
        write_sequence(tmp_path / "data", name)
    log = tmp_path / "log.txt"
    with open(log, "w") as fh:
        proc = subprocess.run([sys.executable, "-m", "tools.cli", "run", "--all", "--data-root",
                               str(tmp_path / "data"), "--appearance", "hist", "--jobs", "2", "--no-eval",
                               "--results-root", str(tmp_path / "res")], stdout=fh, stderr=subprocess.STDOUT,
                              cwd=Path(__file__).resolve().parents[2])
    text = log.read_text()
    assert proc.returncode == 0, text
    assert "\x1b" not in text and "\r" not in text
    assert sorted(text.splitlines()) == sorted(line for line in text.splitlines() if line.strip())
    assert sorted(line.split(":")[0] for line in text.splitlines()) == ["A-01", "B-01"]


def test_a_descriptor_a_tracker_would_not_use_is_refused(tiny_root, tmp_path, capsys):
    base = ["run", "--seq", "TINY-01", "--data-root", str(tiny_root), "--results-root", str(tmp_path / "r"),
            "--quiet", "--appearance", "hist"]
    assert main(base + ["--tracker", "sort"]) == 2
    assert "has no appearance stage" in capsys.readouterr().err
    assert main(base + ["--tracker", "bytetrack"]) == 2
    assert "--appearance-weight above 0" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_npy_features_without_appearance_weight_are_a_motion_only_run(tiny_root, tmp_path):
    seq = Sequence.open(tiny_root / "train" / "TINY-01")
    det = seq.detections()
    npy = tmp_path / "TINY-01.npy"
    write_npy_detections(npy, det.data, np.ones((len(det.data), 2), np.float32))
    res = tmp_path / "results"
    args = ["run", "--seq", "TINY-01", "--data-root", str(tiny_root), "--detections", str(npy),
            "--results-root", str(res), "--quiet", "--no-eval", "--tracker", "bytetrack"]
    assert main(args) == 0
    record = json.loads((res / "bytetrack" / "run.json").read_text())
    assert record["motion_only"] is True
    assert main(args + ["--appearance-weight", "0.2"]) == 0
    assert json.loads((res / "bytetrack-auto" / "run.json").read_text())["motion_only"] is False
