"""Identity-switch moments (tools/switches.py) and the report (tools/report.py, `track report`)."""
from __future__ import annotations

import base64
import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import write_sequence
from tools.cli import main
from tools.eval.switches import Matching, disagreements, id_switches, match_sequence, pick_spread, switch_causes

LENGTH = 12


def _gt_rows() -> list[str]:
    """Person 1 walks right, person 2 stands still, for LENGTH frames."""
    rows = [f"{f},1,{20 + 8 * f},40,30,60,1,1,1" for f in range(1, LENGTH + 1)]
    rows += [f"{f},2,220,50,30,60,1,1,1" for f in range(1, LENGTH + 1)]
    return rows


def _result_rows(switch_at: int | None = None, skip: set[int] = frozenset()) -> str:
    """A run following both people; with switch_at, person 1 gets a new ID (3) from that frame."""
    lines = []
    for f in range(1, LENGTH + 1):
        if f in skip:
            continue
        tid = 3 if switch_at is not None and f >= switch_at else 1
        lines.append(f"{f},{tid},{20 + 8 * f + 1},41,30,60,1,-1,-1,-1")
        lines.append(f"{f},2,221,50,30,60,1,-1,-1,-1")
    return "\n".join(lines) + "\n"


def _as_array(text: str) -> np.ndarray:
    return np.array([[float(v) for v in line.split(",")] for line in text.splitlines() if line])


def _gt_array() -> np.ndarray:
    return np.array([[float(v) for v in r.split(",")] for r in _gt_rows()])


# ------------------------------------------------------------------------------- switches


def test_switch_is_found_with_frame_person_and_ids():
    switches = id_switches(_gt_array(), _as_array(_result_rows(switch_at=7)))
    assert len(switches) == 1
    s = switches[0]
    assert (s.frame, s.gt_id, s.old_id, s.new_id, s.last_frame) == (7, 1, 1, 3, 6)
    assert id_switches(_gt_array(), _as_array(_result_rows())) == []


def test_switch_after_a_gap_counts_from_the_last_frame_seen():
    rows = _as_array(_result_rows(switch_at=8, skip={6, 7}))
    (s,) = id_switches(_gt_array(), rows)
    assert (s.frame, s.last_frame) == (8, 5)


def test_consider_flag_zero_is_not_scored():
    gt = _gt_array()
    gt[gt[:, 1] == 1, 6] = 0  # person 1 is not scored: its switch does not count
    assert id_switches(gt, _as_array(_result_rows(switch_at=7))) == []


def test_empty_inputs():
    assert id_switches(np.zeros((0, 9)), np.zeros((0, 10))) == []
    assert match_sequence(_gt_array(), np.zeros((0, 10))).covered == {}


def _causes(lines: list[str]) -> list[tuple[int, int, int, str, str]]:
    rows = _as_array("\n".join(lines))
    return [(s.frame, s.old_id, s.new_id, old, new)
            for s, old, new in switch_causes(match_sequence(_gt_array(), rows), rows)]


def _on(person: int, f: int, tid: int) -> str:
    x, y = (20 + 8 * f + 1, 41) if person == 1 else (221, 50)
    return f"{f},{tid},{x},{y},30,60,1,-1,-1,-1"


def test_switch_causes_a_fragment_is_ended_and_born():
    lines = [_on(1, f, 1 if f < 7 else 3) for f in range(1, LENGTH + 1)]
    assert _causes(lines) == [(7, 1, 3, "ended", "born")]


def test_switch_causes_a_lost_track_and_its_stand_in():
    """Track 1 loses person 1 for frames 6-8, a new track 3 covers them, then 1 takes them back."""
    lines = [_on(1, f, 3 if f in (6, 7, 8) else 1) for f in range(1, LENGTH + 1)]
    assert _causes(lines) == [(6, 1, 3, "coasting", "born"), (9, 3, 1, "ended", "return")]


def test_switch_causes_two_tracks_trading_people():
    lines = [_on(p, f, p if f < 7 else 3 - p) for f in range(1, LENGTH + 1) for p in (1, 2)]
    assert sorted(_causes(lines)) == [(7, 1, 2, "present", "taken"), (7, 2, 1, "present", "taken")]


def test_switch_causes_a_young_track_that_covered_someone_else_is_taken_not_born():
    """Track 3 starts on person 2 after person 1's track ended, then moves to person 1."""
    lines = [_on(1, f, 1) for f in range(1, 7)] + [_on(1, f, 3) for f in range(9, LENGTH + 1)]
    lines += [_on(2, f, 2 if f < 7 else 3 if f < 9 else 4) for f in range(1, LENGTH + 1)]
    assert _causes(lines) == [(7, 2, 3, "ended", "born"), (9, 1, 3, "ended", "taken"),
                              (9, 3, 4, "present", "born")]


def test_switch_causes_a_track_that_covered_nobody_is_idle():
    lines = [_on(1, f, 1) for f in range(1, 7)] + [_on(1, f, 5) for f in range(7, LENGTH + 1)]
    lines += [f"{f},5,600,300,30,60,1,-1,-1,-1" for f in range(1, 7)]   # on no one before
    assert _causes(lines) == [(7, 1, 5, "ended", "idle")]


def test_switch_kinds_bench_sums_causes_to_trackeval_ids(synth_runs, capsys):
    from tools.bench import switch_kinds

    root, res = synth_runs
    runs = f"{res / 'sort'},{res / 'motion' / 'data'}"
    assert switch_kinds.main([f"both={runs}", "--gt-root", str(root / "train"),
                              "--seqs", "SYNTH-01", "SYNTH-02"]) == 0
    cells = capsys.readouterr().out.strip().splitlines()[-1].split(" | ")
    ids = [json.loads((res / e / "summary.json").read_text())["COMBINED"]["IDs"] for e in ("sort", "motion")]
    assert sum(ids) > 0 and float(cells[2]) == pytest.approx(sum(ids) / 2)
    olds, news = [float(c) for c in cells[3:6]], [float(c) for c in cells[6:10]]
    assert sum(olds) == pytest.approx(float(cells[2])) == pytest.approx(sum(news))
    assert switch_kinds.main([f"x={res / 'sort'}", "--gt-root", str(root / "train"), "--seqs", "NOPE"]) == 2
    assert "NOPE" in capsys.readouterr().err


@pytest.fixture(scope="module")
def synth_runs(tmp_path_factory):
    """Two synthetic sequences tracked by SORT and motion-only DeepSORT, with TrackEval summaries."""
    from tools.data.synth import SynthConfig, make_dataset

    root = tmp_path_factory.mktemp("synth")
    make_dataset(root, 2, SynthConfig(frames=60, width=320, height=180, people=6, seed=3), split="train")
    res = root / "results"
    for exp, flags in (("sort", ["--tracker", "sort"]), ("motion", ["--appearance", "none"])):
        assert main(["run", "--all", "--data-root", str(root), *flags, "--results-root", str(res),
                     "--experiment", exp, "--quiet"]) == 0
    return root, res


def test_switch_count_equals_trackeval_ids(synth_runs):
    from tools.io.motformat import read_mot_file

    root, res = synth_runs
    total = 0
    for exp in ("sort", "motion"):
        summary = json.loads((res / exp / "summary.json").read_text())
        for seq in ("SYNTH-01", "SYNTH-02"):
            gt = read_mot_file(root / "train" / seq / "gt" / "gt.txt", "gt").data
            rows = read_mot_file(res / exp / "data" / f"{seq}.txt", "results").data
            n = len(id_switches(gt, rows))
            assert n == summary[seq]["IDs"], (exp, seq)
            total += n
    assert total > 0  # the check means something only if there are switches


def test_switch_count_equals_trackeval_ids_under_mot16_rules(synth_runs, tmp_path):
    """Distractor gt (class 7) removes the tracker boxes on it; only class 1 is scored."""
    from tools.eval.evaluation import evaluate
    from tools.io.motformat import read_mot_file

    root, res = synth_runs
    seq = "SYNTH-01"
    gt = read_mot_file(root / "train" / seq / "gt" / "gt.txt", "gt").data[:, :9].copy()
    rows = read_mot_file(res / "sort" / "data" / f"{seq}.txt", "results").data
    switched = sorted({s.gt_id for s in id_switches(gt, rows)})
    assert switched
    gt[np.isin(gt[:, 1], switched[::2]), 7] = 7   # make some switching people distractors
    (tmp_path / seq / "gt").mkdir(parents=True)
    np.savetxt(tmp_path / seq / "gt" / "gt.txt", gt, fmt="%g", delimiter=",")
    (tmp_path / seq / "seqinfo.ini").write_text((root / "train" / seq / "seqinfo.ini").read_text())
    expected = evaluate(res / "sort" / "data", tmp_path, benchmark="MOT16", seqs=[seq])[seq]["IDs"]
    assert len(id_switches(gt, rows, "MOT16")) == expected
    assert len(id_switches(gt, rows, "MOT15")) > expected  # the distractors' switches drop out


def _matchings(**runs: str) -> dict[str, Matching]:
    return {name: match_sequence(_gt_array(), _as_array(text)) for name, text in runs.items()}


def test_disagreement_where_one_run_switches_and_the_reference_keeps():
    ms = _matchings(sort=_result_rows(switch_at=7), motion=_result_rows(switch_at=7), fm=_result_rows())
    (m,) = disagreements(ms, "TINY-01", "fm")
    assert (m.sequence, m.frame, m.gt_id) == ("TINY-01", 7, 1)
    assert set(m.switched) == {"sort", "motion"}  # both switches on person 1 merge into one moment
    assert m.kept == ("fm",) and m.kept_ids == {"fm": 1}   # the ID fm follows person 1 with
    assert disagreements(ms, "TINY-01", "sort", contrasts=["fm"]) == []  # fm switches nothing


def test_no_disagreement_when_the_reference_also_switches_or_loses_the_person():
    ms = _matchings(sort=_result_rows(switch_at=7), fm=_result_rows(switch_at=8))
    assert disagreements(ms, "TINY-01", "fm") == []  # fm switches one frame later: no disagreement
    assert len(disagreements(ms, "TINY-01", "fm", slack=0)) == 1  # ... unless no slack is allowed
    lost = _matchings(sort=_result_rows(switch_at=7), fm=_result_rows(skip=set(range(3, 11))))
    assert disagreements(lost, "TINY-01", "fm") == []  # not following the person is no "keeping"


def test_pick_spread_skips_moments_close_together():
    ms = _matchings(sort=_result_rows(switch_at=7), fm=_result_rows())
    (m,) = disagreements(ms, "S", "fm")
    import dataclasses

    near = dataclasses.replace(m, frame=m.frame + 3)
    far = dataclasses.replace(m, frame=m.frame + 40)
    other_seq = dataclasses.replace(m, sequence="T")
    assert pick_spread([m, near, far, other_seq], 5, min_gap=15) == [m, far, other_seq]
    assert pick_spread([m, near, far], 1, min_gap=15) == [m]


# ------------------------------------------------------------------------------- the report


def make_results(tmp: Path, manifest: bool = True) -> Path:
    """A made-up results folder: three runs on one tiny sequence (one run switches an ID), a
    model folder with a training log, and a manifest."""
    from tools.eval.evaluation import evaluate, write_summary

    data = tmp / "data" / "train"
    write_sequence(data, "TINY-01", length=LENGTH, gt_rows=_gt_rows(),
                   det_rows=[f"{f},-1,{20 + 8 * f},40,30,60,0.9,-1,-1,-1" for f in range(1, LENGTH + 1)])
    out = tmp / "results"
    texts = {"sort": _result_rows(switch_at=7), "deepsort-motion": _result_rows(skip={4}),
             "deepsort-fmvae": _result_rows()}
    configs = {"sort": {"tracker": "sort"}, "deepsort-motion": {"tracker": "deepsort", "appearance": "none"},
               "deepsort-fmvae": {"tracker": "deepsort", "appearance": "fmvae:x.pt"}}
    for name, text in texts.items():
        folder = out / "runs" / name
        (folder / "data").mkdir(parents=True)
        (folder / "data" / "TINY-01.txt").write_text(text)
        (folder / "run.json").write_text(json.dumps({"command": ["track", "run", "--data-root", str(tmp / "data")],
                                                     "config": configs[name]}))
        write_summary(evaluate(folder / "data", data), json_path=folder / "summary.json")
    model = out / "models" / "fmvae"
    model.mkdir(parents=True)
    steps = np.arange(1, 41)
    with open(model / "log.csv", "w") as fh:
        fh.write("step,loss,F,C,C_hat,lambda\n")
        for s in steps:
            fh.write(f"{s},{100 / s},{5 + 1 / s},{1 / s},{1 / s},{1000 * 1.01 ** s}\n")
    geometry = out / "geometry" / "fmvae"          # as `track geometry --out RESULTS/geometry/...` writes
    geometry.mkdir(parents=True)
    fig = np.zeros((60, 90, 3), np.uint8)
    fig[:, :45] = (30, 200, 30)
    cv2.imwrite(str(geometry / "mf_contours.png"), fig)
    if manifest:
        (out / "report.json").write_text(json.dumps({
            "title": "made-up results",
            "runs": [{"name": "sort", "label": "SORT"}, {"name": "deepsort-motion", "label": "DeepSORT motion-only"},
                     {"name": "deepsort-fmvae", "label": "DeepSORT + FMVAE"}],
            "reference": "deepsort-fmvae",
            "sequences": {"TINY-01": str(data / "TINY-01")},
            "models": [{"name": "fmvae", "label": "VHP-FMVAE"}],
            "commands": ["track demo"],
        }))
    return out


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.rows: list[list[str]] = []
        self._table = None
        self._row = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "table":
            self._table = a.get("class")
        if tag == "tr" and self._table == "metrics":
            self._row = []
            self.rows.append(self._row)

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        if tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._row is not None and data.strip():
            self._row.append(data.strip())


def _parse(path: Path) -> _Collect:
    p = _Collect()
    p.feed(path.read_text())
    return p


def test_report_html_is_self_contained_with_table_chart_curves_and_strip(tmp_path):
    from tools.report.report import build_report

    out = make_results(tmp_path)
    paths = build_report(out)
    page = _parse(paths.html)
    # self-contained: every image is inline base64 PNG, nothing is fetched, no script
    refs = [a.get("src") or a.get("href") for t, a in page.tags if a.get("src") or a.get("href")]
    assert refs and all(r.startswith("data:image/png;base64,") or r.startswith("#") for r in refs)
    assert not any(t in ("script", "link", "iframe") for t, _ in page.tags)
    # the metrics table: a header and one row per run, IDF1 as TrackEval gave it
    header, *rows = page.rows
    assert header[:5] == ["run", "IDF1", "MOTA", "HOTA", "IDs"]
    assert [r[0] for r in rows] == ["SORT", "DeepSORT motion-only", "DeepSORT + FMVAE"]
    summary = json.loads((out / "runs" / "sort" / "summary.json").read_text())["COMBINED"]
    assert rows[0][1] == f"{summary['IDF1']:.1f}" and rows[0][4] == str(summary["IDs"]) == "1"
    assert rows[2][4] == "0"
    # images: the chart, the training curves and one moment, each a decodable PNG
    imgs = [(a.get("id"), a["src"]) for t, a in page.tags if t == "img"]
    assert [i for i, _ in imgs] == ["chart-bars", "moment-1", None, None]  # chart, strip, curves, geometry
    for _, src in imgs:
        png = base64.b64decode(src.split(",", 1)[1])
        img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        assert img is not None and img.shape[0] > 50 and img.std() > 5
    assert paths.moments == 1
    text = paths.html.read_text()
    # "person N" is the gt numbering, "ID N" a track's; the caption names the ID that is kept
    assert "TINY-01, frame 7, person 1 (dashed box)" in text
    assert "SORT switches from ID 1 to ID 3 at frame 7" in text and "DeepSORT + FMVAE keeps ID 1" in text
    assert 'id="training"' in text
    assert 'id="geometry"' in text and "fmvae/mf_contours (this results folder)" in text


def test_report_markdown_links_files_that_exist(tmp_path):
    from tools.report.report import build_report

    out = make_results(tmp_path)
    paths = build_report(out)
    md = paths.markdown.read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert "report-files/metrics.png" in links and "report-files/curves-fmvae.png" in links
    assert all((out / link).is_file() for link in links)
    assert "| SORT |" in md and "| DeepSORT + FMVAE |" in md


def test_report_rebuilds_from_plain_run_folders_without_a_manifest(tmp_path, capsys):
    out = make_results(tmp_path, manifest=False)
    assert main(["report", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    page = _parse(out / "report.html")
    labels = [r[0] for r in page.rows[1:]]
    # labels from run.json, folder order; data root from the runs' own commands (strip found)
    assert sorted(labels) == ["DeepSORT + FMVAE", "DeepSORT motion-only", "SORT"]
    assert 'id="moment-1"' in (out / "report.html").read_text()


def test_runs_over_different_sequences_are_compared_on_the_common_ones(tmp_path):
    from tools.eval.evaluation import evaluate, write_summary
    from tools.report.report import build_report

    out = make_results(tmp_path)
    data = tmp_path / "data" / "train"
    write_sequence(data, "TINY-02", length=LENGTH, gt_rows=_gt_rows())
    sort = out / "runs" / "sort"
    (sort / "data" / "TINY-02.txt").write_text(_result_rows())
    write_summary(evaluate(sort / "data", data), json_path=sort / "summary.json")
    manifest = json.loads((out / "report.json").read_text())
    manifest["sequences"]["TINY-02"] = str(data / "TINY-02")
    (out / "report.json").write_text(json.dumps(manifest))
    paths = build_report(out)
    page = _parse(paths.html)
    only_01 = evaluate(sort / "data", data, seqs=["TINY-01"])["COMBINED"]
    both = json.loads((sort / "summary.json").read_text())["COMBINED"]
    assert only_01["IDF1"] != both["IDF1"]
    assert page.rows[1][0] == "SORT" and page.rows[1][1] == f"{only_01['IDF1']:.1f}"
    text = paths.html.read_text()
    assert "combined over 1 sequence: TINY-01" in text and "SORT (2 sequences)" in text


def test_report_bad_input_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("track: error:") and err.count("\n") == 1
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "no runs found" in capsys.readouterr().err
    out = make_results(tmp_path)
    (out / "report.json").write_text("{not json")
    assert main(["report", str(out)]) == 2
    assert "report.json" in capsys.readouterr().err


def test_best_marks_only_columns_with_a_direction_and_never_a_full_tie():
    from tools.report.formatting import best

    rows = {"a": {"PT": 5, "ML": 0, "IDs": 9, "IDF1": 60.0},
            "b": {"PT": 9, "ML": 0, "IDs": 4, "IDF1": 55.0}}
    assert best(rows, "PT") == set()     # partly tracked is not better when higher or lower
    assert best(rows, "ML") == set()     # every run ties: nothing to mark
    assert best(rows, "IDs") == {"b"}    # lower is better
    assert best(rows, "IDF1") == {"a"}   # higher is better


def test_strip_draws_the_gt_box_dashed_and_names_ids_apart_from_people(tmp_path):
    from tools.report.strip import StripRun, moment_frames, render_moment

    ms = _matchings(sort=_result_rows(switch_at=7), fm=_result_rows())
    (m,) = disagreements(ms, "TINY-01", "fm")
    shown = moment_frames(m, LENGTH, 2)
    frames = {f: np.full((240, 320, 3), 128, np.uint8) for f in shown}
    runs = [StripRun("sort", "SORT", _as_array(_result_rows(switch_at=7))),
            StripRun("fm", "FMVAE", np.zeros((0, 10)))]      # no track drawn: only the gt box
    img = render_moment(m, runs, _gt_array(), frames, shown)
    fm_row = img[img.shape[0] // 2 + 10:, 190:]              # the second run's tiles
    grey = np.abs(fm_row.astype(int) - 128).max(axis=2) < 8
    # the gt box: white and black dashes, both clearly there (not one faint white line)
    assert (fm_row.min(axis=2) > 230).sum() > 100 and (fm_row.max(axis=2) < 25).sum() > 100
    assert grey.mean() > 0.5                                 # the rest of the tile is the frame


def test_no_strip_whose_last_frame_shows_another_track_on_the_person(tmp_path):
    """A moment is left out when, in its last frame, a run shows a track that is not the one
    following the person on the person's box: it would look like a second switch."""
    from tools.report.report import build_report

    out = make_results(tmp_path)
    ref = out / "runs" / "deepsort-fmvae" / "data" / "TINY-01.txt"
    intruder = "".join(f"{f},9,{20 + 8 * f + 3},42,30,60,1,-1,-1,-1\n" for f in range(9, LENGTH + 1))
    ref.write_text(ref.read_text() + intruder)
    paths = build_report(out)
    text = paths.html.read_text()
    assert paths.moments == 0 and 'id="moment-1"' not in text
    assert "1 of 1 candidate moment(s) left out" in text


def _write_log(folder: Path, c_hat: float, lam_last: float, kappa2: float = 0.25, cap: float = 1e8) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "curves.png").unlink(missing_ok=True)
    rows = ["step,loss,F,C,C_hat,lambda"]
    rows += [f"{s},1.0,5.0,{c_hat},{c_hat},{lam_last if s == 30 else 1000.0 * s}" for s in range(1, 31)]
    (folder / "log.csv").write_text("\n".join(rows) + "\n")
    (folder / "config.json").write_text(json.dumps({"train": {"kappa2": kappa2, "lambda_max": cap}}))


def test_report_warns_about_a_model_that_did_not_converge_and_names_the_leader(tmp_path):
    from tools.report.report import build_report

    out = make_results(tmp_path)
    _write_log(out / "models" / "fmvae", c_hat=0.9, lam_last=1e8)          # never met, lambda capped
    _write_log(out / "models" / "vhp-vae", c_hat=0.2, lam_last=3.0)        # converged
    paths = build_report(out)
    text, md = paths.html.read_text(), paths.markdown.read_text()
    for page in (html.unescape(text), md):
        assert page.count("did not converge") == 1                         # one line per model
        assert ("VHP-FMVAE did not converge in 30 steps: its reconstruction error never met the bound "
                "C <= kappa^2 = 0.25 (lowest 0.9) and lambda ended at its cap 1e+08") in page
        assert "vhp-vae did not converge" not in page
    assert text.index('class="warning"') < text.index('id="metrics"')      # before the tables
    idf1 = {n: json.loads((out / "runs" / n / "summary.json").read_text())["COMBINED"]["IDF1"]
            for n in ("sort", "deepsort-motion", "deepsort-fmvae")}
    first, second = sorted(idf1.values(), reverse=True)[:2]
    assert idf1["deepsort-fmvae"] == first
    lead = f"DeepSORT + FMVAE leads on IDF1 with {first:.1f}, {round(first, 1) - round(second, 1):.1f} ahead of"
    assert lead in text and lead in md


def test_reference_geometry_figures_are_folded_away_after_the_runs_own_results(tmp_path):
    import shutil

    from tools.report.report import build_report

    out = make_results(tmp_path)
    text = build_report(out).html.read_text()          # own figures: shown, no reference section
    assert 'id="geometry"' in text and 'id="reference-geometry"' not in text
    shutil.rmtree(out / "geometry")
    paths = build_report(out)
    text, md = paths.html.read_text(), paths.markdown.read_text()
    assert 'id="geometry"' not in text
    ref = text.index('id="reference-geometry"')
    assert ref > text.index('id="reproduce"')          # after everything this run made
    folded = text[text.index("<details>", ref):text.index("</details>", ref)]
    assert folded.count("<img") >= 1 and folded.count("<img") == text[ref:].count("<img")
    assert "docs/geometry" in folded
    assert md.index("<details>", md.index("## Reference: latent geometry")) > md.index("## Commands")


def test_report_says_which_folders_it_skipped_and_why(tmp_path, capsys):
    out = make_results(tmp_path, manifest=False)
    runs = out / "runs"
    nested = runs / "deepsort-fmvae:results" / "demo" / "models" / "fmvae" / "checkpoint.pt" / "data"
    nested.mkdir(parents=True)   # what a path in the experiment name made
    (nested / "TINY-01.txt").write_text(_result_rows())
    (runs / "empty" / "data").mkdir(parents=True)
    (runs / "notes").mkdir()
    (runs / ".tmp-run").mkdir()
    assert main(["report", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"skipped {runs / 'deepsort-fmvae:results'}: no data/ here; results lie deeper, in "
        f"{nested.parent} (a run named with a path in it): move that folder here to report it",
        f"skipped {runs / 'empty'}: its data/ holds no <seq>.txt results",
        f"skipped {runs / 'notes'}: not a `track run` folder (no data/<seq>.txt)",
    ]
