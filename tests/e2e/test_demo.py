"""`track demo`: stage reuse, the threshold rule, and the pipeline on tiny data."""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from tests.conftest import write_sequence
from tools.cli import build_parser, main
from tools.demo.pipeline import DemoSettings, Pipeline, Stage, StageFailed, calibration_choice


def _record(pos95: float, neg5: float, threshold: float = 0.1) -> dict:
    return {"label-free": {"percentiles": {"positives": {"95": pos95}, "negatives": {"5": neg5}},
                           "proposals": [{"rule": "balanced", "threshold": threshold, "far": 0.05, "frr": 0.1}],
                           "auc": 0.9}}


def test_threshold_rule_keeps_the_default_only_where_it_separates_the_pairs():
    assert calibration_choice(_record(0.15, 0.35))[0] == 0.2
    used, why, proposal = calibration_choice(_record(0.03, 0.05, threshold=0.04))
    assert used == proposal == 0.04 and "accept over 5% of negative pairs" in why
    used, why, _ = calibration_choice(_record(0.5, 0.8, threshold=0.6))
    assert used == 0.6 and "reject over 5% of positive pairs" in why
    used, why, proposal = calibration_choice({})
    assert used == 0.2 and proposal is None and "too few" in why


def _stages(folder: Path, log: list[str], key: int = 0, fail: bool = False) -> list[Stage]:
    """Three stages writing folder/<name>.txt; b reads a's output, c stands alone."""
    def act(name: str, out: Path):
        def run():
            if fail and name == "b":
                raise StageFailed(name, "track x", 2)
            log.append(name)
            out.write_text(name)
        return run

    return [Stage(n, {"k": key if n == "a" else 0}, [out], act(n, out), deps=deps)
            for n, out, deps in ((n, folder / f"{n}.txt", d) for n, d in (("a", []), ("b", ["a"]), ("c", [])))]


def test_finished_stages_are_reused_and_changed_ones_redone_with_their_dependents(tmp_path, capsys):
    s = DemoSettings(out=tmp_path / "out", work=tmp_path / "work")
    log: list[str] = []
    Pipeline(s).run(_stages(tmp_path, log))
    assert log == ["a", "b", "c"]
    assert "[1/3] a: done" in capsys.readouterr().out
    Pipeline(s).run(_stages(tmp_path, log))
    assert log == ["a", "b", "c"]                  # all reused
    assert capsys.readouterr().out.count("reused") == 3
    Pipeline(s).run(_stages(tmp_path, log, key=1))           # a's settings change: a and b (reads a) redo
    assert log[3:] == ["a", "b"]
    (tmp_path / "c.txt").unlink()                  # an output gone: that stage redoes
    Pipeline(s).run(_stages(tmp_path, log, key=1))
    assert log[5:] == ["c"]
    (tmp_path / "a.txt").unlink()                  # a redoes, so b, which reads it, redoes too
    Pipeline(s).run(_stages(tmp_path, log, key=1))
    assert log[6:] == ["a", "b"]
    Pipeline(DemoSettings(out=s.out, work=s.work, force=True)).run(_stages(tmp_path, log, key=1))
    assert log[8:] == ["a", "b", "c"]


def test_an_interrupted_stage_is_redone_on_the_next_run(tmp_path):
    s = DemoSettings(out=tmp_path / "out", work=tmp_path / "work")
    log: list[str] = []
    with pytest.raises(StageFailed):
        Pipeline(s).run(_stages(tmp_path, log, fail=True))
    assert log == ["a"]
    state = json.loads((s.out / "demo-state.json").read_text())["stages"]
    assert state["a"]["done"] and not state["b"]["done"]
    Pipeline(s).run(_stages(tmp_path, log))
    assert log == ["a", "b", "c"]                  # a reused, b and c run


def _summary(out: Path, run: str) -> dict:
    return json.loads((out / "runs" / run / "summary.json").read_text())


def test_demo_without_training_runs_to_a_report_and_reuses_it(tmp_path, capsys):
    out, work = tmp_path / "out", tmp_path / "work"
    args = ["demo", "--out", str(out), "--work", str(work), "--sequences", "1", "--frames", "24",
            "--people", "3", "--no-train", "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "[1/7] make synthetic sequences" in printed and "[7/7] write the report" in printed
    manifest = json.loads((out / "report.json").read_text())
    runs = ["sort", "deepsort-motion", "bytetrack", "ocsort", "deepsort-hist"]
    assert [r["name"] for r in manifest["runs"]] == runs
    for run in runs:
        assert set(_summary(out, run)) == {"SYNTH-01", "COMBINED"}
    html = (out / "report.html").read_text()
    assert "DeepSORT + colour histogram" in html and 'id="chart-bars"' in html
    assert manifest["commands"][0].startswith("track synth --out")
    assert "next steps:" in printed and "track data fetch MOT16" in printed   # what to do now
    assert main(args) == 0
    again = capsys.readouterr().out
    assert again.count("reused") == 6              # every stage but the report itself


def _check_commands(manifest: dict) -> None:
    """Every command the demo records is a real `track` command, and each `track run` one, typed
    by a user, would use the configuration the demo's run used."""
    from tools.cli.tracker_options import config_from_args

    parser = build_parser()
    verbs = []
    for line in manifest["commands"]:
        words = shlex.split(line)
        assert words[0] == "track"
        args = parser.parse_args(words[1:])
        verbs.append(args.command)
        if args.command == "run":
            run = json.loads((Path(args.results_root) / args.experiment / "run.json").read_text())
            assert run["config"] == config_from_args(args).to_dict()
            assert run["command"] == words
    assert "run" in verbs


def test_demo_records_the_commands_that_do_what_it_did(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["demo", "--out", str(out), "--work", str(tmp_path / "work"), "--sequences", "1",
                 "--frames", "24", "--people", "3", "--no-train", "--quiet"]) == 0
    manifest = json.loads((out / "report.json").read_text())
    _check_commands(manifest)
    assert [shlex.split(c)[1] for c in manifest["commands"]] == ["synth"] + ["run"] * 5


def test_demo_on_mot_data_tracks_sequences_without_frames_by_motion_only(tmp_path, capsys):
    data = tmp_path / "MOT" / "train"
    write_sequence(data, "WITH-FRAMES", length=8)
    write_sequence(data, "NO-FRAMES", length=8, images=False)
    out = tmp_path / "out"
    assert main(["demo", "--data", str(tmp_path / "MOT"), "--out", str(out), "--work", str(tmp_path / "w"),
                 "--no-train", "--quiet"]) == 0
    assert set(_summary(out, "sort")) == {"WITH-FRAMES", "NO-FRAMES", "COMBINED"}
    assert set(_summary(out, "deepsort-hist")) == {"WITH-FRAMES", "COMBINED"}
    manifest = json.loads((out / "report.json").read_text())
    assert any("NO-FRAMES have no frames" in n for n in manifest["notes"])
    html = (out / "report.html").read_text()
    assert "combined over 1 sequence: WITH-FRAMES" in html and "SORT (2 sequences)" in html


def test_demo_bad_input(tmp_path, capsys):
    assert main(["demo", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    assert "data folder not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["demo", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "no MOTChallenge sequences" in capsys.readouterr().err
    assert main(["demo", "--steps", "0", "--out", str(tmp_path / "o")]) == 2


@pytest.mark.slow
def test_tiny_demo_with_training_reaches_a_report(tmp_path, capsys):
    """The whole demo at miniature scale: 2 training steps per model, one 30-frame sequence."""
    out = tmp_path / "out"
    assert main(["demo", "--out", str(out), "--work", str(tmp_path / "w"), "--sequences", "1", "--frames", "30",
                 "--people", "4", "--steps", "2", "--batch-size", "8", "--quiet"]) == 0
    manifest = json.loads((out / "report.json").read_text())
    assert [r["name"] for r in manifest["runs"]][-3:] == ["deepsort-tracklet", "deepsort-vhp-vae", "deepsort-fmvae"]
    assert [c["model"] for c in manifest["calibration"]] == ["tracklet", "vhp-vae", "fmvae"]
    assert manifest["reference"] == "deepsort-tracklet"
    headline = json.loads((out / "runs" / "deepsort-tracklet" / "run.json").read_text())
    assert headline["config"]["deepsort"]["ema_alpha"] == 0.9
    for m in ("tracklet", "fmvae", "vhp-vae"):
        assert (out / "models" / m / "log.csv").is_file()
        run = json.loads((out / "runs" / f"deepsort-{m}" / "run.json").read_text())
        used = next(c["used"] for c in manifest["calibration"] if c["model"] == m)
        assert run["config"]["deepsort"]["max_distance"] == pytest.approx(used, rel=1e-5)
    html = (out / "report.html").read_text()
    assert 'id="training"' in html and 'id="calibration"' in html
    _check_commands(manifest)


def test_next_steps_say_how_to_get_track_on_path_when_it_is_not(tmp_path, monkeypatch):
    from tools.cli.demo import next_steps

    monkeypatch.setenv("PATH", str(tmp_path))              # as `make demo` leaves a new shell
    lines = next_steps()
    assert any("/bin/activate" in line and "PATH" in line for line in lines)
    text = "\n".join(lines)
    assert "track data fetch MOT16" in text and "track run --video" in text
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))   # activated: no such line
    assert not any("activate" in line for line in next_steps())


def test_readme_first_section_gives_the_next_steps_after_make_demo():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    first = readme.split("\n## ")[1]                       # the section `make demo` is in
    assert "make demo" in first and ". .venv/bin/activate" in first and ".venv/bin/track" in first
    assert "track data fetch MOT16" in first and "data/README.md" in first
    assert "track run --video" in first
    assert readme.count("\n") <= 250
