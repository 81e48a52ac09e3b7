"""Evaluation with TrackEval on tiny hand-made sequences whose figures are worked out by hand."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tools.cli import entry as cli
from tools.io.errors import InputError
from tools.eval.evaluation import (COLUMNS, COMBINED, evaluate, format_table, infer_benchmark,
                              write_summary)

SEQINFO = ("[Sequence]\nname={name}\nimDir=img1\nframeRate=10\nseqLength={length}\n"
           "imWidth=640\nimHeight=480\nimExt=.jpg\n")

# Two well separated boxes (x, y, w, h).
BOX_A = (10, 10, 20, 40)
BOX_B = (100, 10, 20, 40)


def gt_row(frame, ident, box, consider=1, cls=1, vis=1.0):
    return f"{frame},{ident},{box[0]},{box[1]},{box[2]},{box[3]},{consider},{cls},{vis}"


def res_row(frame, ident, box):
    return f"{frame},{ident},{box[0]},{box[1]},{box[2]},{box[3]},1,-1,-1,-1"


def make_seq(root: Path, name: str, gt_rows: list[str], res_rows: list[str],
             length: int | None = None) -> tuple[Path, Path]:
    """Write root/gt/<name>/{gt/gt.txt,seqinfo.ini} and root/results/data/<name>.txt."""
    gt_dir = root / "gt" / name
    (gt_dir / "gt").mkdir(parents=True, exist_ok=True)
    (gt_dir / "gt" / "gt.txt").write_text("".join(r + "\n" for r in gt_rows))
    if length is not None:
        (gt_dir / "seqinfo.ini").write_text(SEQINFO.format(name=name, length=length))
    res_dir = root / "results" / "data"
    res_dir.mkdir(parents=True, exist_ok=True)
    (res_dir / f"{name}.txt").write_text("".join(r + "\n" for r in res_rows))
    return res_dir, root / "gt"


def test_perfect_tracker_scores_100(tmp_path):
    gt = [gt_row(f, 1, BOX_A) for f in range(1, 6)] + [gt_row(f, 2, BOX_B) for f in range(1, 6)]
    res = [res_row(f, 7, BOX_A) for f in range(1, 6)] + [res_row(f, 9, BOX_B) for f in range(1, 6)]
    res_dir, gt_root = make_seq(tmp_path, "S1", gt, res, length=5)
    s = evaluate(res_dir, gt_root)
    row = s["S1"]
    assert row["MOTA"] == pytest.approx(100.0)
    assert row["IDF1"] == pytest.approx(100.0)
    assert row["HOTA"] == pytest.approx(100.0)
    assert row["MOTP"] == pytest.approx(100.0)
    assert (row["IDs"], row["FP"], row["FN"], row["FM"]) == (0, 0, 0, 0)
    assert (row["MT"], row["PT"], row["ML"]) == (2, 0, 0)
    assert list(row) == COLUMNS
    assert s[COMBINED] == pytest.approx(row)


def test_one_identity_switch(tmp_path):
    # One person over 6 frames; the tracker calls it 1 for frames 1-4 and 2 for frames 5-6.
    gt = [gt_row(f, 1, BOX_A) for f in range(1, 7)]
    res = [res_row(f, 1 if f <= 4 else 2, BOX_A) for f in range(1, 7)]
    res_dir, gt_root = make_seq(tmp_path, "S1", gt, res, length=6)
    row = evaluate(res_dir, gt_root)["S1"]
    assert row["IDs"] == 1
    assert row["MOTA"] == pytest.approx(100 * (6 - 0 - 1) / 6)  # (TP - FP - IDs) / GT
    # Best one-to-one identity match: gt 1 <-> track 1, IDTP 4, IDFN 2, IDFP 2.
    assert row["IDF1"] == pytest.approx(100 * 4 / (4 + 0.5 * 2 + 0.5 * 2))
    assert row["IDP"] == pytest.approx(100 * 4 / 6)
    assert row["IDR"] == pytest.approx(100 * 4 / 6)
    assert row["FM"] == 0  # tracked in every frame: no fragmentation
    assert (row["FP"], row["FN"]) == (0, 0)


def test_false_positives_misses_and_fragments_by_hand(tmp_path):
    # Sequence of 4 frames (frame 4 is empty); two people in frames 1-3.
    gt = [gt_row(f, 1, BOX_A) for f in range(1, 4)] + [gt_row(f, 2, BOX_B) for f in range(1, 4)]
    res = [res_row(f, 1, BOX_A) for f in range(1, 4)]
    res += [res_row(1, 2, BOX_B), res_row(3, 2, BOX_B)]  # B missed in frame 2 -> FN, fragment
    res += [res_row(1, 3, (400, 300, 20, 40))]  # far from everything -> FP
    res += [res_row(2, 4, (115, 10, 20, 40))]  # IoU with B = 200/1400 < 0.5 -> FP
    res_dir, gt_root = make_seq(tmp_path, "S1", gt, res, length=4)
    row = evaluate(res_dir, gt_root)["S1"]
    assert (row["FP"], row["FN"], row["IDs"], row["FM"]) == (2, 1, 0, 1)
    assert row["MOTA"] == pytest.approx(100 * (5 - 2 - 0) / 6)
    assert row["Rcll"] == pytest.approx(100 * 5 / 6)
    assert row["Prcn"] == pytest.approx(100 * 5 / 7)
    assert row["FAR"] == pytest.approx(2 / 4)  # per frame of the sequence, empty frames included
    assert (row["MT"], row["PT"], row["ML"]) == (1, 1, 0)  # A 3/3 tracked, B 2/3
    assert row["MOTAL"] == pytest.approx(100 * (5 - 2 - 0) / 6)  # log10 term is 0 without IDs


def test_combined_row_sums_counts_over_sequences(tmp_path):
    make_seq(tmp_path, "S1", [gt_row(f, 1, BOX_A) for f in (1, 2, 3, 4)],
             [res_row(f, 1, BOX_A) for f in (1, 2, 3, 4)], length=4)
    res_dir, gt_root = make_seq(tmp_path, "S2", [gt_row(f, 1, BOX_A) for f in (1, 2)], [],
                                length=2)
    s = evaluate(res_dir, gt_root)
    assert list(s) == ["S1", "S2", COMBINED]
    assert s["S2"]["FN"] == 2 and s["S2"]["MOTA"] == pytest.approx(0.0)
    assert s[COMBINED]["FN"] == 2
    assert s[COMBINED]["MOTA"] == pytest.approx(100 * 4 / 6)
    assert (s[COMBINED]["MT"], s[COMBINED]["ML"]) == (1, 1)


def _distractor_case(tmp_path, name):
    gt = [gt_row(1, 1, BOX_A),                                # pedestrian
          gt_row(1, 2, BOX_B, consider=0, cls=8),            # distractor, not to be scored
          gt_row(1, 3, (300, 10, 20, 40), consider=1, cls=3)]  # a car: not a pedestrian
    res = [res_row(1, 1, BOX_A), res_row(1, 2, BOX_B)]       # one box on the distractor
    return make_seq(tmp_path, name, gt, res, length=1)


def test_mot16_removes_tracker_boxes_on_distractors(tmp_path):
    res_dir, gt_root = _distractor_case(tmp_path, "MOT16-02")
    row = evaluate(res_dir, gt_root)["MOT16-02"]  # MOT16 rules inferred from the name
    assert row["FP"] == 0  # the box on the distractor is removed, not counted
    assert row["FN"] == 0  # the car is not scored as ground truth
    assert row["MOTA"] == pytest.approx(100.0)


def test_mot15_rules_keep_the_box_and_use_only_the_consider_flag(tmp_path):
    res_dir, gt_root = _distractor_case(tmp_path, "MOT16-02")
    row = evaluate(res_dir, gt_root, benchmark="MOT15")["MOT16-02"]
    assert row["FP"] == 1  # distractor gt dropped (consider 0), the box on it is a false positive
    assert row["FN"] == 1  # the class column is ignored: the car counts as a missed object
    assert row["MOTA"] == pytest.approx(100 * (1 - 1) / 2)


def test_mot16_keeps_boxes_on_distractors_below_iou_half(tmp_path):
    gt = [gt_row(1, 1, BOX_A), gt_row(1, 2, BOX_B, consider=0, cls=8)]
    res = [res_row(1, 1, BOX_A), res_row(1, 2, (115, 10, 20, 40))]  # IoU 0.14 with distractor
    res_dir, gt_root = make_seq(tmp_path, "MOT16-05", gt, res, length=1)
    assert evaluate(res_dir, gt_root)["MOT16-05"]["FP"] == 1


def test_consider_flag_zero_ground_truth_is_ignored(tmp_path):
    gt = [gt_row(f, 1, BOX_A) for f in (1, 2, 3)]
    gt += [gt_row(f, 2, BOX_B, consider=0) for f in (1, 2, 3)]  # never tracked, never counted
    res = [res_row(f, 1, BOX_A) for f in (1, 2, 3)]
    res_dir, gt_root = make_seq(tmp_path, "S1", gt, res, length=3)
    row = evaluate(res_dir, gt_root)["S1"]
    assert (row["FN"], row["FP"], row["ML"]) == (0, 0, 0)
    assert row["MOTA"] == pytest.approx(100.0)


def test_missing_seqinfo_takes_length_from_last_frame(tmp_path):
    gt = [gt_row(f, 1, BOX_A) for f in (1, 2)]
    res = [res_row(f, 1, BOX_A) for f in (1, 2)] + [res_row(3, 5, BOX_B)]
    res_dir, gt_root = make_seq(tmp_path, "TUD-Like", gt, res, length=None)
    row = evaluate(res_dir, gt_root)["TUD-Like"]
    assert row["FP"] == 1
    assert row["FAR"] == pytest.approx(1 / 3)


def test_whitespace_separated_six_column_results_are_read(tmp_path):
    gt = [gt_row(f, 1, BOX_A) for f in (1, 2)]
    res = [f"{f} 4 {BOX_A[0]} {BOX_A[1]} {BOX_A[2]} {BOX_A[3]}" for f in (1, 2)]
    res_dir, gt_root = make_seq(tmp_path, "S1", gt, res, length=2)
    assert evaluate(res_dir, gt_root)["S1"]["MOTA"] == pytest.approx(100.0)


def test_results_with_world_coordinates_are_accepted(tmp_path):
    # Column 8 of a result row is a world coordinate, not a class: 12.5 must not be rejected.
    gt = [gt_row(1, 1, BOX_A)]
    res = [f"1,1,{BOX_A[0]},{BOX_A[1]},{BOX_A[2]},{BOX_A[3]},0.9,12.5,3.0,0"]
    res_dir, gt_root = make_seq(tmp_path, "S1", gt, res, length=1)
    assert evaluate(res_dir, gt_root)["S1"]["MOTA"] == pytest.approx(100.0)


def test_malformed_result_line_names_file_and_line(tmp_path):
    res = [res_row(1, 1, BOX_A), "", "2,1,10,abc,20,40,1,-1,-1,-1"]
    res_dir, gt_root = make_seq(tmp_path, "S1", [gt_row(1, 1, BOX_A)], res, length=2)
    with pytest.raises(InputError) as err:
        evaluate(res_dir, gt_root)
    assert err.value.line == 3
    assert err.value.path == str(res_dir / "S1.txt")
    assert "not a number" in str(err.value)


@pytest.mark.parametrize("res, line, message", [
    ([res_row(1, 1, BOX_A), res_row(1, 1, BOX_B)], 2, "appears twice in frame 1"),
    ([res_row(1, -3, BOX_A)], 1, "must not be negative"),
    ([res_row(1, 1, BOX_A), res_row(5, 1, BOX_A)], 2, "beyond the sequence length 2"),
])
def test_result_rows_trackeval_would_reject_name_the_line(tmp_path, res, line, message):
    res_dir, gt_root = make_seq(tmp_path, "S1", [gt_row(1, 1, BOX_A)], res, length=2)
    with pytest.raises(InputError) as err:
        evaluate(res_dir, gt_root)
    assert err.value.line == line and message in str(err.value)


def test_mot16_ground_truth_without_classes_is_rejected_with_a_hint(tmp_path):
    gt = ["1,1,10,10,20,40,1,-1,-1,-1"]  # MOT15-style row
    res_dir, gt_root = make_seq(tmp_path, "MOT16-09", gt, [res_row(1, 1, BOX_A)], length=1)
    with pytest.raises(InputError) as err:
        evaluate(res_dir, gt_root)
    assert err.value.path.endswith("gt.txt") and err.value.line == 1
    assert "--benchmark MOT15" in str(err.value)
    assert evaluate(res_dir, gt_root, benchmark="MOT15")["MOT16-09"]["MOTA"] == pytest.approx(100)


def test_result_without_ground_truth_and_missing_requested_sequence(tmp_path):
    res_dir, gt_root = make_seq(tmp_path, "S1", [gt_row(1, 1, BOX_A)], [res_row(1, 1, BOX_A)], 1)
    (res_dir / "ORPHAN.txt").write_text(res_row(1, 1, BOX_A) + "\n")
    with pytest.raises(InputError, match="no ground truth for sequence 'ORPHAN'"):
        evaluate(res_dir, gt_root)
    assert list(evaluate(res_dir, gt_root, seqs=["S1"])) == ["S1", COMBINED]
    with pytest.raises(InputError, match="no result file for sequence 'S9'"):
        evaluate(res_dir, gt_root, seqs=["S9"])


def test_trackeval_exception_becomes_input_error(tmp_path, monkeypatch):
    import trackeval
    from trackeval.utils import TrackEvalException

    class Broken:
        def __init__(self, config):
            raise TrackEvalException("GT file not found for sequence: S1")

    monkeypatch.setattr(trackeval.datasets, "MotChallenge2DBox", Broken)
    res_dir, gt_root = make_seq(tmp_path, "S1", [gt_row(1, 1, BOX_A)], [res_row(1, 1, BOX_A)], 1)
    with pytest.raises(InputError, match="TrackEval: GT file not found"):
        evaluate(res_dir, gt_root)


def test_evaluate_is_silent_and_writes_nothing_beside_the_inputs(tmp_path, capsys):
    res_dir, gt_root = make_seq(tmp_path, "S1", [gt_row(1, 1, BOX_A)], [res_row(1, 1, BOX_A)], 1)
    before = sorted(p for p in tmp_path.rglob("*"))
    evaluate(res_dir, gt_root)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert sorted(p for p in tmp_path.rglob("*")) == before


def test_infer_benchmark():
    assert infer_benchmark(["MOT16-02", "MOT16-09"]) == "MOT16"
    assert infer_benchmark(["MOT17-04-FRCNN"]) == "MOT17"
    assert infer_benchmark(["TUD-Campus", "PETS09-S2L1"]) == "MOT15"
    with pytest.raises(InputError, match="different benchmarks"):
        infer_benchmark(["MOT16-02", "TUD-Campus"])


def test_format_table_has_every_column_and_row():
    row = {c: (3 if c in {"MT", "PT", "ML", "FP", "FN", "IDs", "FM"} else 12.345) for c in COLUMNS}
    text = format_table({"S1": row, COMBINED: row})
    lines = text.splitlines()
    assert lines[0].split() == ["Sequence"] + COLUMNS
    assert lines[1].startswith("S1") and lines[2].startswith(COMBINED)
    assert "12.3" in lines[1] and "12.35" in lines[1]  # percentages 1 decimal, FAR 2
    assert len({len(line) for line in lines}) == 1  # fixed width


def run_cli(argv, capsys, monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", ("eval",))  # other sub-commands may not exist yet
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_bad_input_exit_2_and_one_line(tmp_path, capsys, monkeypatch):
    res = [res_row(1, 1, BOX_A), "2,1,10,10,-5,40,1,-1,-1,-1"]
    res_dir, gt_root = make_seq(tmp_path, "S1", [gt_row(1, 1, BOX_A)], res, length=2)
    code, out, err = run_cli(["eval", str(res_dir), "--gt-root", str(gt_root)], capsys,
                             monkeypatch)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("track: error: ")
    assert f"{res_dir / 'S1.txt'}:2:" in err
    assert not (res_dir.parent / "summary.json").exists()


def test_cli_writes_summaries_that_parse_back(tmp_path, capsys, monkeypatch):
    gt = [gt_row(f, 1, BOX_A) for f in range(1, 7)]
    res = [res_row(f, 1 if f <= 4 else 2, BOX_A) for f in range(1, 7)]
    res_dir, gt_root = make_seq(tmp_path, "S1", gt, res, length=6)
    code, out, err = run_cli(["eval", str(res_dir), "--gt-root", str(gt_root)], capsys,
                             monkeypatch)
    assert code == 0 and err == ""
    assert "MOT15 rules" in out and "IDF1" in out and "COMBINED" in out
    expected = evaluate(res_dir, gt_root)
    exp_dir = res_dir.parent  # RESULTS is named "data": summaries go to the experiment folder
    data = json.loads((exp_dir / "summary.json").read_text())
    assert list(data) == ["S1", COMBINED]
    assert data["S1"] == pytest.approx(expected["S1"])
    assert data["S1"]["IDs"] == 1 and isinstance(data["S1"]["IDs"], int)
    with open(exp_dir / "summary.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["sequence"] + COLUMNS
    assert [r[0] for r in rows[1:]] == ["S1", COMBINED]
    parsed = dict(zip(COLUMNS, map(float, rows[1][1:])))
    assert parsed == pytest.approx(expected["S1"])
    md = (exp_dir / "summary.md").read_text()
    assert md.startswith("| Sequence | IDF1") and "| S1 |" in md
    assert sorted(p.name for p in res_dir.iterdir()) == ["S1.txt"]


def test_cli_json_and_csv_paths_override(tmp_path, capsys, monkeypatch):
    res_dir, gt_root = make_seq(tmp_path, "S1", [gt_row(1, 1, BOX_A)], [res_row(1, 1, BOX_A)], 1)
    plain = tmp_path / "plain"
    res_dir.rename(plain)  # a results folder not named "data": summaries go inside it
    code, _, _ = run_cli(["eval", str(plain), "--gt-root", str(gt_root), "--json",
                          str(tmp_path / "out" / "s.json"), "--csv", str(tmp_path / "s.csv")],
                         capsys, monkeypatch)
    assert code == 0
    assert json.loads((tmp_path / "out" / "s.json").read_text())["S1"]["MOTA"] == 100.0
    assert (tmp_path / "s.csv").read_text().startswith("sequence,IDF1,")
    assert (plain / "summary.md").is_file()
    assert not (plain / "summary.json").exists() and not (plain / "summary.csv").exists()


def test_write_summary_is_atomic_and_complete(tmp_path):
    row = {c: 1 for c in COLUMNS}
    write_summary({"S1": row, COMBINED: row}, json_path=tmp_path / "a.json")
    assert json.loads((tmp_path / "a.json").read_text()) == {"S1": row, COMBINED: row}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary file left behind


@pytest.mark.parametrize("where", ["under-a-file", "a-folder"])
def test_cli_summary_path_problems_are_one_line_before_any_evaluation(tmp_path, capsys, monkeypatch, where):
    res_dir, gt_root = make_seq(tmp_path, "S1", [gt_row(1, 1, BOX_A)], [res_row(1, 1, BOX_A)], 1)
    (tmp_path / "afile").write_text("")
    (tmp_path / "adir").mkdir()
    target = tmp_path / "afile" / "x.json" if where == "under-a-file" else tmp_path / "adir"
    code, out, err = run_cli(["eval", str(res_dir), "--gt-root", str(gt_root), "--json", str(target)],
                             capsys, monkeypatch)
    assert code == 2 and err.count("\n") == 1 and "--json" in err, err
    assert ("afile" in err) if where == "under-a-file" else ("names a folder" in err)
    assert "IDF1" not in out                     # refused before evaluating, not after
    assert not (res_dir.parent / "summary.csv").exists()
