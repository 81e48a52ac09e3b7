"""Interrupted work: processes killed with SIGKILL (no chance to clean up) at random points.

- `track train`: killed five times and resumed each time; the final checkpoint equals an
  uninterrupted run with the same seed bit for bit, and every checkpoint.pt seen (while it runs
  and after each kill) loads: none was ever truncated.
- `track run --all`: killed mid-way; a rerun finishes the missing sequences, no result file is
  ever half-written, finished ones are skipped unless --force.
- atomic_open itself, killed mid-write (fast): the old file stays, the temporary is swept later.

The kill loops start real processes (torch import, data loading) and are marked slow; the
atomic-write kill and the in-process crash variant run in the normal suite. Set KILL_SEED to
replay a kill schedule (the seed used is printed).
"""
from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools.io.atomic import remove_stale_temps
from tools.cli import main

ROOT = Path(__file__).resolve().parents[2]
TRAIN_FLAGS = ["--model", "fmvae", "--width", "0.0625", "--decoder-channels", "8", "8", "8", "8", "8",
               "--prior-hidden", "16", "--latent-dim", "8", "--steps", "40", "--batch-size", "8",
               "--flat-batch", "4", "--checkpoint-every", "1", "--threads", "1", "--seed", "0", "--quiet"]
KILLS = 5


def track_process(*args) -> subprocess.Popen:
    """`track ...` in its own process group, so a SIGKILL takes its workers too."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "tools.cli", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def kill(proc: subprocess.Popen) -> None:
    assert proc.poll() is None, f"the process ended before it was killed:\n{proc.stderr.read()}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def finish(proc: subprocess.Popen, timeout: float = 600) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out


def kill_seed() -> int:
    seed = int(os.environ.get("KILL_SEED", time.time_ns() % 2**31))
    print(f"KILL_SEED={seed}")
    return seed


# ---------------------------------------------------------------- atomic writes (fast)


WRITER = """
import sys, time
from tools.io.atomic import atomic_open
with atomic_open(sys.argv[1], "w") as fh:
    fh.write("partial line " * 5000)
    fh.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def test_sigkill_mid_write_keeps_the_old_file_and_the_temporary_is_swept(tmp_path):
    target = tmp_path / "SEQ.txt"
    target.write_text("the complete old file\n")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert target.read_text() == "the complete old file\n"
    leftovers = sorted(tmp_path.glob(".SEQ.txt.*.tmp"))
    assert len(leftovers) == 1 and leftovers[0].read_text().startswith("partial line")
    # a live writer's temporary (newer than the cut-off) is left alone; the dead one goes
    assert remove_stale_temps(target, older_than=leftovers[0].stat().st_mtime - 1) == []
    assert remove_stale_temps(target, older_than=time.time() + 1) == leftovers
    assert sorted(p.name for p in tmp_path.iterdir()) == ["SEQ.txt"]


# ---------------------------------------------------------------- track train


@pytest.fixture(scope="module")
def crop_cache(tmp_path_factory) -> Path:
    """32x32 detection crops of a small synthetic sequence, made with `track synth` and `track crops`."""
    root = tmp_path_factory.mktemp("interrupt")
    assert main(["synth", "--out", str(root / "synth"), "--sequences", "1", "--frames", "30",
                 "--people", "4", "--width", "192", "--height", "128", "--seed", "0"]) == 0
    assert main(["crops", "--seq", "SYNTH-01", "--data-root", str(root / "synth"), "--size", "32",
                 "--min-confidence", "0.3", "--out", str(root / "crops"), "--quiet"]) == 0
    return root / "crops"


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def _checkpoint_step(path: Path) -> int:
    from appearance.model.checkpoint import load_checkpoint

    return int(load_checkpoint(path)["step"])  # an InputError here would mean a torn file


def _wait_for_saves(proc: subprocess.Popen, ckpt: Path, saves: int, seen: list[int]) -> None:
    """Poll until checkpoint.pt has been replaced `saves` times, loading each version seen."""
    inode, done, deadline = _inode(ckpt), 0, time.monotonic() + 300
    while done < saves:
        assert proc.poll() is None, f"training ended early:\n{proc.stderr.read()}"
        assert time.monotonic() < deadline, "no checkpoint progress"
        now = _inode(ckpt)
        if now is not None and now != inode:
            inode, done = now, done + 1
            seen.append(_checkpoint_step(ckpt))
        time.sleep(0.005)


def _log_without_time(path: Path) -> list[dict]:
    with path.open(newline="") as fh:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]


@pytest.mark.slow
def test_train_killed_five_times_and_resumed_equals_an_uninterrupted_run(crop_cache, tmp_path):
    from tests.appearance.test_training import assert_same, state

    rng = random.Random(kill_seed())
    reference = tmp_path / "reference"
    t0 = time.monotonic()
    proc = track_process("train", "--crops", crop_cache, "--out", reference, *TRAIN_FLAGS)
    while not (reference / "checkpoint.pt").exists() and proc.poll() is None:
        time.sleep(0.005)
    start_up = time.monotonic() - t0  # until the first checkpoint: imports, data, step 1
    finish(proc)

    out = tmp_path / "killed"
    ckpt = out / "checkpoint.pt"
    seen: list[int] = []
    schedule = []
    mid_write = rng.randrange(1, KILLS)  # this kill waits for a checkpoint write to be under way
    for k in range(KILLS):
        if ckpt.exists():
            proc = track_process("train", "--resume", "--out", out, "--quiet")
        else:  # killed before the first checkpoint: start again from scratch
            proc = track_process("train", "--crops", crop_cache, "--out", out, *TRAIN_FLAGS)
        saves = "mid-write" if k == mid_write else rng.choice([0, 1, 1, 2, 3])
        delay = 0.0
        if saves == "mid-write":
            _wait_for_saves(proc, ckpt, 1, seen)
            deadline = time.monotonic() + 300
            while not list(out.glob(".checkpoint.pt.*.tmp")):
                assert proc.poll() is None and time.monotonic() < deadline
        elif saves == 0:
            delay = rng.uniform(0.0, start_up)  # during start-up or the first step
            time.sleep(delay)
        else:
            _wait_for_saves(proc, ckpt, saves, seen)
            delay = rng.uniform(0.0, 0.4)  # anywhere in the next step, its checkpoint write included
            time.sleep(delay)
        kill(proc)
        step = _checkpoint_step(ckpt) if ckpt.exists() else None
        torn = len(list(out.glob(".checkpoint.pt.*.tmp")))  # a write the kill cut short
        schedule.append((saves, round(delay, 3), step, torn))
        if step is not None and seen:
            assert step >= max(seen)
            seen.append(step)
    print("kills (saves waited, extra delay s, checkpoint step after the kill, cut-short writes "
          "left):", schedule)
    assert len(schedule) == KILLS and schedule[mid_write][3] >= 1
    proc = track_process("train", "--resume", "--out", out, "--quiet") if ckpt.exists() else \
        track_process("train", "--crops", crop_cache, "--out", out, *TRAIN_FLAGS)
    finish(proc)

    assert_same(state(ckpt), state(reference / "checkpoint.pt"))
    assert _log_without_time(out / "log.csv") == _log_without_time(reference / "log.csv")
    assert not list(out.glob(".*.tmp")), "a killed run's temporary was not swept"


# ---------------------------------------------------------------- track run --all


SEQS = 8


def _results(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.txt"))}


def _inodes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_ino for p in sorted(folder.glob("*.txt"))}


@pytest.fixture(scope="module")
def synth_sequences(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runall") / "synth"
    assert main(["synth", "--out", str(root), "--sequences", str(SEQS), "--frames", "200", "--width", "320",
                 "--height", "240", "--seed", "3"]) == 0
    return root


def run_all_args(data: Path, results: Path, experiment: str, *extra) -> list[str]:
    return ["run", "--all", "--data-root", str(data), "--appearance", "hist", "--results-root", str(results),
            "--experiment", experiment, "--no-eval", "--quiet", *extra]


@pytest.mark.slow
def test_run_all_killed_mid_way_then_rerun(synth_sequences, tmp_path, capsys):
    with capsys.disabled():
        rng = random.Random(kill_seed())
    results = tmp_path / "results"
    t0 = time.perf_counter()
    assert main(run_all_args(synth_sequences, results, "reference")) == 0
    per_sequence = (time.perf_counter() - t0) / SEQS
    reference = _results(results / "reference" / "data")
    assert len(reference) == SEQS

    data = results / "killed" / "data"
    proc = track_process(*run_all_args(synth_sequences, results, "killed", "--jobs", "2"))
    deadline = time.monotonic() + 300
    while not list(data.glob("*.txt")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 0.3 * per_sequence))  # the other worker may finish meanwhile
    kill(proc)
    done = _results(data)
    with capsys.disabled():
        print(f"killed with {len(done)} of {SEQS} sequences finished: {sorted(done)}; "
              f"leftover temporaries: {sorted(p.name for p in data.glob('.*.tmp'))}")
    assert 1 <= len(done) < SEQS, f"kill came too late to test anything: {sorted(done)}"
    for name, content in done.items():  # whatever is visible is complete
        assert content == reference[name], f"{name} is half-written"
    finished = _inodes(data)

    capsys.readouterr()
    assert main(run_all_args(synth_sequences, results, "killed", "--jobs", "2")) == 0
    assert f"skipping {len(done)} finished sequence(s)" in capsys.readouterr().out
    assert _results(data) == reference
    assert {k: v for k, v in _inodes(data).items() if k in finished} == finished  # not redone
    assert not list(data.glob(".*.tmp")), "a killed run's temporary was not swept"

    assert main(run_all_args(synth_sequences, results, "killed")) == 0
    assert f"skipping {SEQS} finished sequence(s)" in capsys.readouterr().out
    assert _inodes(data) == {**finished, **{k: v for k, v in _inodes(data).items() if k not in finished}}
    before = _inodes(data)
    assert main(run_all_args(synth_sequences, results, "killed", "--force")) == 0
    after = _inodes(data)
    assert all(after[k] != before[k] for k in before) and _results(data) == reference


def test_run_all_after_a_crash_mid_way_finishes_and_sweeps_leftovers(tmp_path, capsys, monkeypatch):
    """The fast variant: the first run dies (KeyboardInterrupt) while tracking the second sequence,
    leaving the temporary a SIGKILL mid-write would leave; the rerun does the rest."""
    from tests.conftest import write_sequence
    import tools.track.experiment as run_command

    for name in ("A-01", "B-01", "C-01"):
        write_sequence(tmp_path / "data", name, images=False)
    base = ["run", "--all", "--data-root", str(tmp_path / "data"), "--results-root", str(tmp_path / "res"),
            "--quiet", "--no-eval"]
    args = base + ["--experiment", "e"]
    assert main(base + ["--experiment", "ref"]) == 0
    reference = _results(tmp_path / "res" / "ref" / "data")
    real = run_command.run_and_write
    calls = []

    def dies_on_the_second(seq, *a, **kw):
        calls.append(seq.name)
        if len(calls) == 2:
            stale = tmp_path / "res" / "e" / "data" / f".{seq.name}.txt.killed.tmp"
            stale.write_text("1,1,10")  # what a writer killed mid-write leaves behind
            os.utime(stale, (time.time() - 60, time.time() - 60))
            raise KeyboardInterrupt
        return real(seq, *a, **kw)

    monkeypatch.setattr(run_command, "run_and_write", dies_on_the_second)
    assert main(args) == 130
    assert list(_results(tmp_path / "res" / "e" / "data")) == ["A-01.txt"]
    monkeypatch.setattr(run_command, "run_and_write", real)
    capsys.readouterr()
    assert main(args) == 0
    assert "skipping 1 finished sequence(s)" in capsys.readouterr().out
    assert _results(tmp_path / "res" / "e" / "data") == reference
    assert not list((tmp_path / "res" / "e" / "data").glob(".*"))
