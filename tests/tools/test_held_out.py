"""The held-out bench: each sequence tracked with the value chosen on the others."""
from __future__ import annotations

import json

from tools.bench import held_out
from tools.data.synth import SynthConfig, make_dataset


def test_held_out_choice_uses_only_the_other_sequences(tmp_path, capsys):
    root = tmp_path / "seqs"
    make_dataset(root, 3, SynthConfig(frames=40, people=4, seed=3))
    out = tmp_path / "out"
    assert held_out.main(["--data-root", str(root), "--values", "0.5", "0.8", "--out", str(out)]) == 0
    table = json.loads((out / "table.json").read_text())
    assert set(table["chosen"]) == {"SYNTH-01", "SYNTH-02", "SYNTH-03"}
    names = sorted(table["chosen"])
    folders = {v: out / "runs" / f"bytetrack-track_thresh-{v:g}" for v in (0.5, 0.8)}
    for seq, (value, score) in table["chosen"].items():
        rest = [n for n in names if n != seq]
        others = {v: held_out.evaluate(f, root, "MOT15", seqs=rest)["COMBINED"]["HOTA"] for v, f in folders.items()}
        assert score == others[value] == max(others.values())
        # the held-out file is the chosen value's own result for that sequence
        assert (out / "runs" / "held-out" / f"{seq}.txt").read_text() == (folders[value] / f"{seq}.txt").read_text()
    text = (out / "table.md").read_text()
    assert "chosen on the other sequences" in text and "BoxMOT" not in text   # BoxMOT ran on other data
    # a rerun with another tracker does not reuse these folders
    assert held_out.main(["--data-root", str(root), "--tracker", "ocsort", "--param", "max_age",
                          "--values", "10", "30", "--out", str(out)]) == 0
    assert (out / "runs" / "ocsort-max_age-10" / "stamp.json").is_file()
    assert json.loads((out / "table.json").read_text())["chosen"]["SYNTH-01"][0] in (10, 30)


def test_ties_go_to_the_middle_of_the_grid_then_to_the_smaller_value():
    assert held_out.best_value({0.5: 1.0, 0.6: 2.0, 0.9: 2.0}) == 0.6
    assert held_out.best_value({0.5: 2.0, 0.7: 1.0, 0.9: 2.0}) == 0.5
    assert held_out.best_value({0.5: 1.0, 0.9: 3.0}) == 0.9


def test_held_out_skips_without_data(tmp_path, capsys):
    assert held_out.main(["--data-root", str(tmp_path / "absent")]) == 0
    assert "skipped" in capsys.readouterr().out
