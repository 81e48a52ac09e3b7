"""The appearance table bench end to end on two synthetic sequences under the MOT15 names, and
its oracle-gap columns."""
from __future__ import annotations

import json
import re
from argparse import Namespace
from pathlib import Path

import pytest

from tools.bench import appearance_table
from tools.bench.appearance_table import SEQS
from tools.data.synth import SynthConfig, make_dataset


def _mot15_named(root: Path) -> Path:
    make_dataset(root, 2, SynthConfig(frames=45, width=320, height=180, people=4, seed=3), split="train")
    for old, new in zip(("SYNTH-01", "SYNTH-02"), SEQS):
        (root / "train" / old).rename(root / "train" / new)
        ini = root / "train" / new / "seqinfo.ini"
        ini.write_text(re.sub(r"name=.*", f"name={new}", ini.read_text()))
    return root


def test_a_rerun_reuses_every_output_and_still_logs_every_command(tmp_path, capsys):
    root, work = _mot15_named(tmp_path / "MOT15"), tmp_path / "work"
    argv = ["--data-root", str(root), "--work", str(work), "--kinds", "tracklet", "--tracklet-negatives",
            "co-occurring", "--steps", "2", "--seeds", "0", "--no-centre", "--no-loo", "--threads", "1"]
    assert appearance_table.main(argv) == 0
    commands = work / "commands-2steps-cosine.sh"
    first, table = commands.read_text(), (work / "table-2steps-cosine.md").read_text()
    for verb in ("crops", "train", "embed", "calibrate", "run"):
        assert f"track {verb} " in first, verb
    checkpoint = work / "models" / "s0-2steps" / "tracklet-cooc" / "checkpoint.pt"
    stamp = checkpoint.stat().st_mtime_ns
    capsys.readouterr()
    assert appearance_table.main(argv) == 0
    assert "\n$ track" not in capsys.readouterr().out     # nothing ran again
    assert checkpoint.stat().st_mtime_ns == stamp
    assert commands.read_text() == first                    # ... and the log is whole
    assert (work / "table-2steps-cosine.md").read_text() == table
    rows = json.loads((work / "table-2steps-cosine.json").read_text())["per_seed"]
    motion, oracle = rows["DeepSORT motion-only"][0], rows["DeepSORT + identity oracle (ceiling)"][0]
    assert oracle["IDF1"] > motion["IDF1"] and oracle["IDs"] < motion["IDs"]
    for (v,) in rows.values():   # one seed: the share of the way from motion-only to the oracle
        for column, gap in (("IDF1", "gap"), ("IDs", "IDs gap")):
            expected = 100 * (v[column] - motion[column]) / (oracle[column] - motion[column])
            assert v[gap] == pytest.approx(expected)


def _scores(idf1: float, ids: int, gap: float, ids_gap: float | None) -> dict:
    return {**{c: 0.0 for c in appearance_table.COLUMNS}, "IDF1": idf1, "IDs": ids,
            "gap": gap, "IDs gap": ids_gap}


def test_the_switch_gap_column_is_the_share_of_the_oracles_reduction_and_blank_on_a_tie():
    assert appearance_table._share(75, 100, 50) == 50.0       # half of the oracle's 50 fewer switches
    assert appearance_table._share(110, 100, 50) == -20.0     # more switches than motion-only
    assert appearance_table._share(100, 100, 100) is None     # no gap to close
    per_seed = {"motion": [_scores(50.0, 100, 0.0, 0.0)],
                "learned": [_scores(55.0, 80, 50.0, 40.0), _scores(57.0, 70, 70.0, 60.0)],
                "tie": [_scores(50.0, 100, 0.0, appearance_table._share(100, 100, 100))]}
    text = appearance_table._tables(per_seed, Namespace(seeds=[0, 1], steps=2, preset="cpu", metric="cosine"))
    summary = text.split("\n\n")[1].splitlines()     # the mean ± sd table, before the all-columns one
    col = [c.strip() for c in summary[0].split("|")].index("IDs gap closed %")
    cells = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")] for line in summary[2:]}
    assert cells["learned"][col] == "50.0 ± 14.1"
    assert cells["tie"][col] == ""
