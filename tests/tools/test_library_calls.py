"""The library functions the commands wrap, called as the demo and the benchmarks call them, give
what the commands give; and the shared pieces under them (sequence options, MOT row writer,
folder swap, JSON records, exit status)."""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import pytest

from tools.cli import main
from tools.cli.sequence_options import add_sequence_options, detection_path, select_sequences
from tools.io.atomic import make_temp_folder, replace_folder
from tools.io.errors import InputError, exit_status
from tools.io.motformat import DET_ROW, format_mot, format_results, read_mot_file, write_mot
from tools.io.records import read_record
from tools.io.sequence import Sequence, find_sequence
from tools.track.experiment import experiment_name, run_experiment
from tools.track.run_config import config_argv, resolve


def test_run_experiment_writes_what_track_run_writes(tiny_root, tmp_path, capsys):
    flags = {"tracker": "deepsort", "appearance": "hist", "max_distance": 0.3}
    res = tmp_path / "res"
    argv = ["run", "--seq", "TINY-01", "--data-root", str(tiny_root), *config_argv(flags),
            "--results-root", str(res), "--experiment", "cli", "--quiet"]
    assert main(argv) == 0
    seqs = [find_sequence("TINY-01", tiny_root)]
    got = run_experiment(seqs, resolve(None, flags), res / "lib", progress=False)
    assert [r.name for r in got.results] == ["TINY-01"] and got.skipped == []
    assert set(got.summary) == {"TINY-01", "COMBINED"}
    for name in ("data/TINY-01.txt", "summary.json"):
        assert (res / "lib" / name).read_bytes() == (res / "cli" / name).read_bytes()
    cli, lib = (json.loads((res / e / "run.json").read_text()) for e in ("cli", "lib"))
    assert cli["config"] == lib["config"] and lib["command"] is None
    assert experiment_name(resolve(None, flags)) == "deepsort-hist"
    again = run_experiment(seqs, resolve(None, flags), res / "lib", evaluate=False, skip_finished=True,
                           progress=False)
    assert again.results == [] and again.skipped == ["TINY-01"] and again.summary is None
    assert "skipping 1 finished sequence(s)" in capsys.readouterr().out


def test_config_argv_is_the_command_line_of_a_config():
    values = {"tracker": "deepsort", "metric": "euclidean", "max_distance": 0.1 + 0.2, "n_init": 2}
    argv = config_argv(values)
    assert argv[:2] == ["--tracker", "deepsort"] and "0.30000000000000004" in argv
    with pytest.raises(KeyError, match="no flag sets 'colour'"):
        config_argv({"colour": "red"})


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_sequence_options(p)
    p.add_argument("--detections")
    return p.parse_args(argv)


def test_sequence_options_pick_and_refuse(tiny_root, tmp_path):
    root = str(tiny_root)
    assert [s.name for s in select_sequences(_parse(["--all", "--data-root", root]))] == ["TINY-01"]
    assert [s.name for s in select_sequences(_parse(["--seq", "TINY-01", "TINY-01", "--data-root", root]),
                                             by_name=True)] == ["TINY-01"]
    with pytest.raises(InputError, match="give either"):
        select_sequences(_parse(["--data-root", root]))
    with pytest.raises(InputError, match="--split applies only with --all"):
        select_sequences(_parse(["--seq", "TINY-01", "--split", "train", "--data-root", root]), by_name=True)
    with pytest.raises(InputError, match="under a folder named 'test'"):
        select_sequences(_parse(["--all", "--split", "test", "--data-root", root]), by_name=True)
    seq = Sequence.open(tiny_root / "train" / "TINY-01")
    assert detection_path(_parse([]), seq, 1) is None
    folder = tmp_path / "dets"
    folder.mkdir()
    (folder / "TINY-01.txt").write_text("1,-1,1,1,5,5,0.9\n")
    assert detection_path(_parse(["--detections", str(folder)]), seq, 2) == folder / "TINY-01.txt"
    with pytest.raises(InputError, match="one detection file given for several"):
        detection_path(_parse(["--detections", str(folder / "TINY-01.txt")]), seq, 2)


def test_mot_rows_are_written_by_one_writer(tmp_path):
    rows = np.array([[1, 3, 10.123456789, 5, 12, 30, 0.9, -1, -1, -1], [2, -1, 1e-9, 2.5, 1e6, 3, 0.55, -1, -1, -1]])
    assert format_results(rows).splitlines()[0] == "1,3,10.12,5.00,12.00,30.00,1,-1,-1,-1"
    assert format_mot(rows, DET_ROW).splitlines() == ["1,3,10.12346,5,12,30,0.9,-1,-1,-1",
                                                      "2,-1,1e-09,2.5,1000000,3,0.55,-1,-1,-1"]
    assert format_mot(rows, "%d,%.1f\n", columns=[0, 6]) == "1,0.9\n2,0.6\n"
    assert format_mot(np.zeros((0, 10)), DET_ROW) == ""
    write_mot(tmp_path / "det.txt", rows, DET_ROW)
    assert np.allclose(read_mot_file(tmp_path / "det.txt", "det").data[:, :7], rows[:, :7], rtol=1e-6)


def test_replace_folder_swaps_refuses_and_puts_back(tmp_path, monkeypatch):
    out = tmp_path / "out"
    tmp = make_temp_folder(tmp_path, ".out.new-")
    (tmp / "a").write_text("new")
    mask = os.umask(0)
    os.umask(mask)
    assert tmp.stat().st_mode & 0o777 == 0o777 & ~mask       # not mkdtemp's private 0700
    replace_folder(tmp, out)
    assert (out / "a").read_text() == "new" and not tmp.exists()
    tmp = make_temp_folder(tmp_path, ".out.new-")
    with pytest.raises(InputError, match="already exists; pass --force"):
        replace_folder(tmp, out, force=False)
    real = os.replace

    def fails_into_place(src, dst):
        if str(src) == str(tmp):
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", fails_into_place)
    with pytest.raises(InputError, match="cannot move the new data into place: No space left"):
        replace_folder(tmp, out)
    assert (out / "a").read_text() == "new"            # the old folder is back
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.old-")] == []


def test_records_and_exit_status(tmp_path, capsys):
    path = tmp_path / "r.json"
    assert read_record(path) is None
    for text in ("not json", "[1, 2]", "\udcff"):
        path.write_text(text, errors="surrogateescape")
        assert read_record(path) is None
    path.write_text('{"a": 1}')
    assert read_record(path) == {"a": 1}
    assert exit_status(lambda: None) == 0 and exit_status(lambda: 1) == 1

    def bad():
        raise InputError(path, "no good", 3)

    assert exit_status(bad) == 2
    assert capsys.readouterr().err == f"track: error: {path}:3: no good\n"
