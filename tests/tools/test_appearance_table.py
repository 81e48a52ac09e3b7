"""The appearance table bench end to end on two synthetic sequences under the MOT15 names."""
from __future__ import annotations

import re
from pathlib import Path

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
