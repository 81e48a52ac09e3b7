"""Scale: long streams, crowded frames and parallel sequences (a benchmark, not a timed test).

Three measurements, each printed as a markdown table:

1. memory over a long stream: DeepSORT (paper settings, 128-D cosine features, nn_budget 100)
   on a synthetic stream of --frames frames (default 100,000) in which people keep entering,
   walking and leaving, so thousands of tracks are born and deleted. At intervals it records
   traced memory (tracemalloc: every NumPy and Python allocation), the process RSS, live tracks,
   gallery sizes, and checks that no gallery exceeds the budget and that no gallery outlives its
   track. After the stream, empty frames let every track die: memory must return to about
   where it started.
2. per-frame time against crowd size: N = 10, 100, 1000 people (and detections) per frame, all
   confirmed with full galleries (budget 100), with the time split into the appearance cost
   (gallery distances), the Mahalanobis gate, the assignments and the rest. The growth exponent
   between sizes is log(t2/t1)/log(N2/N1). Every per-pair computation is a NumPy array
   operation (nn_matching.Gallery.distance, kalman_filter.gating_distance, iou.iou_tlwh,
   scipy's linear_sum_assignment); Python loops run over tracks, cascade levels or gallery
   chunks, never over (track, detection) pairs.
3. `track run --all --jobs N` wall time on several synthetic sequences (`track synth`, hist
   appearance so each frame is decoded and described), and the speed-up over --jobs 1.

    python -m tools.bench.scale [--frames 100000] [--sizes 10 100 1000] [--jobs 1 2]
                                [--only memory,time,jobs] [--out FILE.md]
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # as the CLI does: tiny per-frame matrices, no BLAS threads

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DIM = 128


def machine() -> str:
    from tools.io.machine import cpu_model

    cpu = cpu_model()
    load = "%.1f %.1f %.1f" % os.getloadavg() if hasattr(os, "getloadavg") else "?"
    return (f"{platform.platform()}; {cpu}; {os.cpu_count()} CPUs; load average {load}; "
            f"python {platform.python_version()}, numpy {np.__version__}; BLAS threads "
            f"{os.environ.get('OPENBLAS_NUM_THREADS')}")


def rss_mib() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return float("nan")


# ---------------------------------------------------------------- a synthetic crowd


class Crowd:
    """People who enter, walk (with a little jitter) and leave a 1920x1080 scene.

    Each person has a fixed random appearance; a detection's feature is that vector plus noise,
    so DeepSORT's appearance cost is informative. Births keep about `people` in the scene.
    """

    W, H = 1920.0, 1080.0

    def __init__(self, people: int, seed: int = 0, life: tuple[int, int] = (30, 600),
                 miss: float = 0.05, false_positives: float = 0.5):
        self.rng = np.random.default_rng(seed)
        self.target, self.life, self.miss, self.fp = people, life, miss, false_positives
        self.pos = np.zeros((0, 2))
        self.vel = np.zeros((0, 2))
        self.size = np.zeros((0, 2))
        self.left = np.zeros(0, np.int64)
        self.look = np.zeros((0, DIM), np.float32)
        self.born = 0
        self._spawn(people, initial=True)

    def _spawn(self, n: int, initial: bool = False) -> None:
        r = self.rng
        h = r.uniform(80, 200, n)
        size = np.stack([0.4 * h, h], axis=1)
        pos = np.stack([r.uniform(0, self.W - size[:, 0]), r.uniform(0, self.H - size[:, 1])], axis=1)
        life = r.integers(*self.life, n) if not initial else r.integers(1, self.life[1], n)
        self.pos = np.concatenate([self.pos, pos])
        self.vel = np.concatenate([self.vel, r.normal(0, 2.0, (n, 2))])
        self.size = np.concatenate([self.size, size])
        self.left = np.concatenate([self.left, life])
        self.look = np.concatenate([self.look, r.normal(size=(n, DIM)).astype(np.float32)])
        self.born += n

    def step(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance one frame; return detections (tlwh, confidence, feature)."""
        r = self.rng
        keep = self.left > 0
        for name in ("pos", "vel", "size", "left", "look"):
            setattr(self, name, getattr(self, name)[keep])
        births = r.poisson(max(0.0, self.target - len(self.left)) * 0.05 + self.target / np.mean(self.life))
        if births:
            self._spawn(int(births))
        self.pos += self.vel
        self.left -= 1
        seen = r.random(len(self.pos)) >= self.miss
        tlwh = np.concatenate([self.pos[seen] + r.normal(0, 1.5, (seen.sum(), 2)), self.size[seen]], axis=1)
        feat = self.look[seen] + 0.15 * r.normal(size=(seen.sum(), DIM)).astype(np.float32)
        n_fp = r.poisson(self.fp)
        if n_fp:
            h = r.uniform(60, 200, n_fp)
            fp = np.stack([r.uniform(0, self.W, n_fp), r.uniform(0, self.H, n_fp), 0.4 * h, h], axis=1)
            tlwh = np.concatenate([tlwh, fp])
            feat = np.concatenate([feat, r.normal(size=(n_fp, DIM)).astype(np.float32)])
        conf = r.uniform(0.5, 1.0, len(tlwh))
        return tlwh, conf, feat


def deepsort():
    from tracker import DeepSort, DeepSortParams

    return DeepSort(DeepSortParams(max_distance=0.2, metric="cosine", nn_budget=100, max_age=30, n_init=3))


# ---------------------------------------------------------------- 1. memory


def bench_memory(frames: int, people: int, points: int = 10, trace: bool = True) -> tuple[str, bool]:
    from tqdm import tqdm

    from tracker import Detections

    crowd = Crowd(people, seed=1)
    tracker = deepsort()
    budget = tracker.params.nn_budget
    marks = sorted({max(1, round(frames * k / points)) for k in range(1, points + 1)} | {min(1000, frames)})
    if trace:
        tracemalloc.start()
    base_traced = tracemalloc.get_traced_memory()[0]
    rows = []
    ok = True
    problems = []
    peak_gallery = 0
    t0 = time.perf_counter()
    for f in tqdm(range(1, frames + 1), desc="long stream", unit="frame", mininterval=2, leave=False):
        tlwh, conf, feat = crowd.step()
        tracker.update(Detections(tlwh, conf, feat))
        if f in marks:
            sizes = [len(g) for g in tracker.gallery.samples.values()]
            peak_gallery = max([peak_gallery] + sizes)
            if sizes and max(sizes) > budget:
                ok = False
                problems.append(f"frame {f}: a gallery holds {max(sizes)} > {budget} features")
            orphans = set(tracker.gallery.samples) - set(tracker.ids.tolist())
            if orphans:
                ok = False
                problems.append(f"frame {f}: galleries of deleted tracks {sorted(orphans)[:5]}")
            traced = (tracemalloc.get_traced_memory()[0] - base_traced) / 2**20
            rows.append((f, traced, rss_mib(), len(tracker.ids), len(sizes), sum(sizes),
                         tracker._next_id - 1, time.perf_counter() - t0))
    # let everyone leave: empty frames until every track is deleted
    empty = Detections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, DIM), np.float32))
    for _ in range(tracker.params.max_age + 2):
        tracker.update(empty)
    after = (tracemalloc.get_traced_memory()[0] - base_traced) / 2**20
    peak = (tracemalloc.get_traced_memory()[1] - base_traced) / 2**20
    tracemalloc.stop()
    if len(tracker.ids) or len(tracker.gallery):
        ok = False
        problems.append(f"after the stream: {len(tracker.ids)} tracks, {len(tracker.gallery)} galleries left")
    settled = [r[1] for r in rows if r[0] >= frames // 10]
    spread = max(settled) - min(settled) if settled else 0.0
    out = [f"DeepSORT, {DIM}-D cosine features, nn_budget {budget}, about {people} people in view, "
           f"{crowd.born:,} people over {frames:,} frames; memory relative to the start (tracemalloc "
           f"traces every NumPy/Python allocation{'' if trace else '; OFF in this run: traced columns are 0'}).", "",
           "| frame | traced MiB | RSS MiB | live tracks | galleries | gallery features | track ids issued | seconds |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    out += [f"| {f:,} | {t:.2f} | {r:.0f} | {n} | {g} | {s:,} | {i:,} | {sec:.0f} |"
            for f, t, r, n, g, s, i, sec in rows]
    out += ["", f"traced memory from frame {frames // 10:,} to the end: min {min(settled):.2f}, max "
            f"{max(settled):.2f} MiB (spread {spread:.2f} MiB); peak {peak:.2f} MiB; largest gallery "
            f"{peak_gallery} (budget {budget}); after every track died: {after:.2f} MiB, "
            f"{len(tracker.ids)} tracks, {len(tracker.gallery)} galleries."]
    out += [f"PROBLEM: {p}" for p in problems]
    return "\n".join(out), ok


# ---------------------------------------------------------------- 2. time per frame


class Timers:
    """Accumulated seconds in the tracker's per-pair stages (wrapping the module functions)."""

    def __init__(self):
        import tracker.deep_sort as ds
        import tracker.linear_assignment as la
        import tracker.nn_matching as nn

        self.seconds = {"appearance": 0.0, "gate": 0.0, "assignment": 0.0}
        self._undo = []
        self._wrap(nn.Gallery, "distance", "appearance", method=True)
        self._wrap(ds.kf, "gating_distance", "gate")
        self._wrap(la, "linear_sum_assignment", "assignment")

    def _wrap(self, owner, name, key, method=False):
        real = getattr(owner, name)
        seconds = self.seconds

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                seconds[key] += time.perf_counter() - t0

        setattr(owner, name, timed)
        self._undo.append((owner, name, real))

    def reset(self):
        for k in self.seconds:
            self.seconds[k] = 0.0

    def close(self):
        for owner, name, real in reversed(self._undo):
            setattr(owner, name, real)


def bench_time(sizes: list[int], measure: int = 10) -> str:
    from tqdm import tqdm

    from tracker import Detections

    results = []
    timers = Timers()
    try:
        for n in sizes:
            crowd = Crowd(n, seed=2, life=(10**9, 10**9 + 1), miss=0.0, false_positives=0.0)
            tracker = deepsort()
            warm = tracker.params.nn_budget + 5  # every gallery full
            for _ in tqdm(range(warm), desc=f"N={n} warm-up", leave=False):
                tracker.update(Detections(*crowd.step()))
            inputs = [crowd.step() for _ in range(measure)]
            timers.reset()
            t0 = time.perf_counter()
            for tlwh, conf, feat in inputs:
                tracker.update(Detections(tlwh, conf, feat))
            total = (time.perf_counter() - t0) / measure
            stage = {k: v / measure for k, v in timers.seconds.items()}
            confirmed = int((tracker.state == 2).sum())
            gallery = sum(len(g) for g in tracker.gallery.samples.values())
            results.append((n, total, stage, confirmed, gallery))
    finally:
        timers.close()
    out = [f"DeepSORT per frame, N people = N detections per frame, {DIM}-D features, galleries full "
           f"(nn_budget 100); mean over {measure} frames after {100 + 5} warm-up frames.", "",
           "| N | ms / frame | appearance ms | gate ms | assignment ms | rest ms | confirmed | gallery features | growth vs previous N |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    prev = None
    for n, total, stage, confirmed, gallery in results:
        rest = total - sum(stage.values())
        growth = "" if prev is None else (
            f"x{total / prev[1]:.1f} time for x{n / prev[0]:g} N: exponent {math.log(total / prev[1]) / math.log(n / prev[0]):.2f}")
        out.append(f"| {n:,} | {1e3 * total:.2f} | {1e3 * stage['appearance']:.2f} | {1e3 * stage['gate']:.2f} | "
                   f"{1e3 * stage['assignment']:.2f} | {1e3 * rest:.2f} | {confirmed} | {gallery:,} | {growth} |")
        prev = (n, total)
    out += ["", "The appearance cost is N tracks x 100 samples x N detections x 128 multiply-adds "
            "(quadratic in N, one matrix product per chunk of galleries); the gate is N x N "
            "4x4 solves; the assignment is scipy's linear_sum_assignment (cubic in the worst case)."]
    return "\n".join(out)


# ---------------------------------------------------------------- 3. --jobs


def bench_jobs(jobs: list[int], sequences: int, frames: int, repeat: int = 2) -> str:
    """Wall and CPU time of `track run --all --jobs N`; the --jobs values alternate within each
    repetition so a change in machine load hits them alike; the best wall time is reported."""
    import resource

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        track = [sys.executable, "-m", "tools.cli"]
        subprocess.run(track + ["synth", "--out", str(tmp / "data"), "--sequences", str(sequences),
                                "--frames", str(frames), "--seed", "5"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        best: dict[int, tuple[float, float, str]] = {}
        for rep in range(repeat):
            for n in (jobs if rep % 2 == 0 else list(reversed(jobs))):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                subprocess.run(track + ["run", "--all", "--data-root", str(tmp / "data"), "--appearance",
                                        "hist", "--results-root", str(tmp / "res"), "--experiment",
                                        f"jobs{n}", "--jobs", str(n), "--no-eval", "--quiet", "--force"],
                               cwd=ROOT, env=env, check=True, capture_output=True)
                wall = time.perf_counter() - t0
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                load = "%.1f" % os.getloadavg()[0]
                if n not in best or wall < best[n][0]:
                    best[n] = (wall, cpu, load)
        same = len({(tmp / "res" / f"jobs{n}" / "data" / "SYNTH-01.txt").read_bytes() for n in jobs}) == 1
    base = best[jobs[0]][0]
    out = [f"`track run --all --appearance hist --jobs N` on {sequences} synthetic sequences of {frames} "
           f"frames (640x360): best wall time of {repeat} runs (start-up included), the CPU time of "
           f"all its processes, and the 1-minute load average when it ran.", "",
           "| --jobs | wall s | CPU s | load | speed-up |", "|---:|---:|---:|---:|---:|"]
    out += [f"| {n} | {best[n][0]:.1f} | {best[n][1]:.1f} | {best[n][2]} | x{base / best[n][0]:.2f} |" for n in jobs]
    out += ["", f"results identical across --jobs: {'yes' if same else 'NO'}. The speed-up is bounded "
            f"by idle cores ({os.cpu_count()} here): where the load average exceeds the core count, a "
            f"second process only takes a larger share of a busy machine."]
    return "\n".join(out)


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=100_000, help="length of the long stream (default 100,000)")
    p.add_argument("--people", type=int, default=15, help="people in view in the long stream (default 15)")
    p.add_argument("--no-tracemalloc", action="store_true",
                   help="long stream without tracemalloc (about 3x faster; RSS and gallery sizes only)")
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000], help="crowd sizes to time")
    p.add_argument("--measure", type=int, default=10, help="frames timed per crowd size (default 10)")
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="--jobs values to compare")
    p.add_argument("--sequences", type=int, default=4, help="synthetic sequences for --jobs (default 4)")
    p.add_argument("--seq-frames", type=int, default=300, help="frames per synthetic sequence (default 300)")
    p.add_argument("--repeat", type=int, default=2, help="runs per --jobs value, best kept (default 2)")
    p.add_argument("--only", default="memory,time,jobs", help="comma-separated subset of memory,time,jobs")
    p.add_argument("--out", type=Path, help="also write the tables to this markdown file")
    args = p.parse_args(argv)
    parts = {s.strip() for s in args.only.split(",")}
    sections = [f"machine: {machine()}"]
    ok = True
    print(sections[0], flush=True)
    if "memory" in parts:
        text, ok = bench_memory(args.frames, args.people, trace=not args.no_tracemalloc)
        sections.append("### Memory over a long stream\n\n" + text)
        print("\n" + sections[-1], flush=True)
    if "time" in parts:
        sections.append("### Time per frame against crowd size\n\n" + bench_time(args.sizes, args.measure))
        print("\n" + sections[-1], flush=True)
    if "jobs" in parts:
        sections.append("### Parallel sequences\n\n" + bench_jobs(args.jobs, args.sequences, args.seq_frames, args.repeat))
        print("\n" + sections[-1], flush=True)
    if args.out:
        from tools.io.atomic import atomic_write_text

        atomic_write_text(args.out, "\n\n".join(sections) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
