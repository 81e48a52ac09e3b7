"""The demo pipeline: data -> crops -> three descriptors -> thresholds -> eight trackers -> report.

Every stage calls the library functions that `track` sub-commands wrap (tools.track.experiment,
tools.track.calibration, tools.track.descriptors, tools.data.synth) and records the command line
that does the same, so the report documents the real commands a user would type. The pipeline is
resumable: RESULTS/demo-state.json records, per stage, a key of everything that decides its
output (its settings and the keys of the stages it reads from). A rerun skips a stage whose key
is unchanged and whose outputs exist; an interrupted training continues from its checkpoint;
`force` redoes everything.

Synthetic mode (no `data`): `track synth` makes the sequences under WORK/synth. Real mode:
the MOTChallenge sequences under `data` (those with ground truth; all of them are tracked by
SORT and motion-only DeepSORT, the appearance runs need frames and use the sequences that have
them). The appearance thresholds come from `track calibrate` (label-free).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import shlex
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from tools.io.atomic import atomic_write_text
from tools.io.errors import InputError, exit_status
from tools.io.folders import check_output_folder
from tools.io.records import read_record

STATE = "demo-state.json"
LOG = "demo.log"
DEFAULT_DISTANCE = 0.2       # DeepSORT's cosine gate
# The descriptors the demo trains, headline first: the classifier of the detections' own IoU
# tracklets (label-free), then the paper's two VAEs.
MODEL_LABELS = {"tracklet": "tracklet classifier", "vhp-vae": "VHP-VAE", "fmvae": "VHP-FMVAE"}
HEADLINE_EMA = 0.9           # the headline run keeps StrongSORT's EMA track feature


class StageFailed(Exception):
    def __init__(self, stage: str, command: str, code: int, tail: list[str] | None = None):
        super().__init__(f"stage {stage!r} failed: `{command}` exited with status {code}")
        self.code = code
        self.tail = tail or []


@dataclass
class DemoSettings:
    out: Path
    work: Path
    data: Path | None = None
    split: str | None = None
    sequences: int = 3
    frames: int = 150
    people: int = 8
    seed: int = 0
    steps: int = 150
    batch_size: int = 64
    threads: int | None = None
    learned: bool = True
    force: bool = False
    progress: bool = True
    command: str | None = None       # the command line that started the demo, for the report


@dataclass
class Stage:
    name: str
    key: dict
    outputs: list[Path]
    action: Callable[[], None]
    deps: list[str] = field(default_factory=list)
    clean: list[Path] = field(default_factory=list)   # removed before the stage is redone


@dataclass
class DemoResult:
    report_html: Path
    report_md: Path
    seconds: float
    cpu_seconds: float       # all threads of this process: on 2 idle cores wall >= cpu / 2
    stages: list[dict]
    report: object = None    # tools.report.report.ReportPaths


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _fmt_time(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


class Pipeline:
    """Runs the stages in order with `[k/N]` progress lines and the reuse rules above."""

    def __init__(self, settings: DemoSettings):
        self.s = settings
        self.state_path = settings.out / STATE
        self.log_path = settings.out / LOG
        self.state = self._load_state()
        self.commands: list[str] = []          # every command of this demo, in stage order
        self.stage_commands: dict[str, list[str]] = {}
        self.digests: dict[str, str] = {}
        self.timings: list[dict] = []
        self.redone: set[str] = set()
        self.t0 = time.perf_counter()
        self.c0 = time.process_time()

    def _load_state(self) -> dict:
        state = read_record(self.state_path)
        return state if isinstance((state or {}).get("stages"), dict) else {"stages": {}}

    def _save_state(self) -> None:
        atomic_write_text(self.state_path, json.dumps(self.state, indent=1, default=str) + "\n")

    def track(self, stage: str, argv: list[str], call: Callable[[], int | None],
              ok_codes: tuple[int, ...] = (0,)) -> int:
        """Run `call` (what the command `track ARGV` does) as a step of `stage`: its output goes to
        OUT/demo.log and its exit status is the command's (an InputError is 2)."""
        line = "track " + shlex.join(argv)
        self.stage_commands.setdefault(stage, []).append(line)
        if self.s.progress:
            print(f"    $ {line}", flush=True)
        # The commands' own output (tables, calibration reports) goes to OUT/demo.log; their
        # progress bars (stderr) stay on the terminal unless --quiet.
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a") as log:
            log.write(f"\n$ {line}\n")
            log.flush()
            with contextlib.ExitStack() as stack:
                stack.enter_context(contextlib.redirect_stdout(log))
                if not self.s.progress:
                    stack.enter_context(contextlib.redirect_stderr(log))
                code = exit_status(call)
        if code not in ok_codes:
            tail = self.log_path.read_text().splitlines()[-5:]
            raise StageFailed(stage, line, code, tail)
        return code

    def run(self, stages: list[Stage]) -> None:
        n = len(stages)
        for k, st in enumerate(stages, 1):
            digest = _digest({"key": st.key, "deps": [self.digests[d] for d in st.deps]})
            self.digests[st.name] = digest
            record = self.state["stages"].get(st.name, {})
            # a stage that read from a stage redone in this session is redone too
            reusable = (not self.s.force and record.get("digest") == digest and record.get("done")
                        and all(p.exists() for p in st.outputs)
                        and not any(d in self.redone for d in st.deps))
            if reusable:
                print(f"[{k}/{n}] {st.name}: reused (finished earlier; --force redoes it)", flush=True)
                cmds = record.get("commands", [])
                self.stage_commands[st.name] = list(cmds)
                self.commands += cmds
                self.timings.append({"stage": st.name, "seconds": record.get("seconds"),
                                     "cpu_seconds": record.get("cpu_seconds"), "reused": True})
                continue
            print(f"[{k}/{n}] {st.name}", flush=True)
            if record.get("digest") != digest or self.s.force:
                for p in st.clean:
                    if p.is_dir():
                        shutil.rmtree(p)
                    elif p.exists():
                        p.unlink()
            self.state["stages"][st.name] = {"digest": digest, "done": False}
            self._save_state()
            t, c = time.perf_counter(), time.process_time()
            self.stage_commands[st.name] = []
            st.action()
            seconds, cpu = time.perf_counter() - t, time.process_time() - c
            cmds = self.stage_commands.get(st.name, [])
            self.commands += cmds
            self.state["stages"][st.name] = {"digest": digest, "done": True, "seconds": seconds,
                                             "cpu_seconds": cpu, "commands": cmds}
            self._save_state()
            self.timings.append({"stage": st.name, "seconds": seconds, "cpu_seconds": cpu, "reused": False})
            self.redone.add(st.name)
            print(f"[{k}/{n}] {st.name}: done in {_fmt_time(seconds)}, CPU time {_fmt_time(cpu)} "
                  f"(demo so far {_fmt_time(time.perf_counter() - self.t0)})", flush=True)


# ------------------------------------------------------------------------------- the demo


def _sequences(s: DemoSettings):
    from tools.io.sequence import list_sequences

    if s.data is None:
        return None
    if not s.data.is_dir():
        raise InputError(s.data, "data folder not found")
    found = list_sequences(s.data, s.split)
    if not found:
        raise InputError(s.data, "no MOTChallenge sequences here (looked for <seq>/seqinfo.ini"
                                 + (f" under a folder named {s.split!r})" if s.split else ")"))
    with_gt = [q for q in found if q.has_gt]
    if not with_gt:
        raise InputError(s.data, "no sequence with ground truth (gt/gt.txt): nothing to evaluate")
    names = [q.name for q in with_gt]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(s.data, f"several sequences are named {', '.join(twice)}: choose one "
                                 f"folder with --split")
    return with_gt


def calibration_choice(record: dict, default: float = DEFAULT_DISTANCE) -> tuple[float, str, float | None]:
    """The threshold to use from a `track calibrate --json` record: DeepSORT's default when it
    separates the label-free pairs (positives' 95th percentile <= default <= negatives' 5th),
    else the balanced proposal. Returns (threshold, why, proposal)."""
    lf = record.get("label-free") or {}
    proposals = lf.get("proposals") or []
    balanced = next((p for p in proposals if p.get("rule") == "balanced"), None)
    pct = lf.get("percentiles") or {}
    pos95 = (pct.get("positives") or {}).get("95")
    neg5 = (pct.get("negatives") or {}).get("5")
    proposal = None if balanced is None else float(balanced["threshold"])
    if pos95 is None or neg5 is None or proposal is None:
        return default, "too few label-free pairs to calibrate: DeepSORT's default", proposal
    if pos95 <= default <= neg5:
        return default, (f"the default separates the pairs (positives' 95th percentile {pos95:.3g}, "
                         f"negatives' 5th {neg5:.3g})"), proposal
    side = (f"would reject over 5% of positive pairs (their 95th percentile is {pos95:.3g})"
            if pos95 > default else f"would accept over 5% of negative pairs (their 5th percentile "
                                    f"is {neg5:.3g})")
    return proposal, (f"the default {default:g} {side}: balanced proposal (est. false accept "
                      f"{100 * balanced['far']:.1f}%, false reject {100 * balanced['frr']:.1f}%)"), proposal


def run_demo(s: DemoSettings) -> DemoResult:
    """Run (or resume) the demo and write its report; see the module docstring."""
    from tools.report.report import build_report
    from tools.track.run_config import config_argv

    check_output_folder(s.out, "--out")
    check_output_folder(s.work, "--work")
    s.out.mkdir(parents=True, exist_ok=True)
    p = Pipeline(s)
    real = _sequences(s)
    stages: list[Stage] = []
    notes: list[str] = []
    q = [] if s.progress else ["--quiet"]

    if real is None:
        synth_root = s.work / "synth"
        names = [f"SYNTH-{i:02d}" for i in range(1, s.sequences + 1)]
        seq_dirs = [synth_root / "train" / n for n in names]
        data_root = synth_root
        key = {"sequences": s.sequences, "frames": s.frames, "people": s.people, "seed": s.seed}
        stages.append(Stage(
            "make synthetic sequences", key, [d / "seqinfo.ini" for d in seq_dirs],
            lambda: p.track("make synthetic sequences",
                            ["synth", "--out", str(synth_root), "--split", "train", "--sequences",
                             str(s.sequences), "--frames", str(s.frames), "--people", str(s.people),
                             "--seed", str(s.seed)],
                            lambda: _make_synthetic(synth_root, s)),
            clean=[synth_root]))
        base = ["make synthetic sequences"]
        framed_dirs, all_dirs = seq_dirs, seq_dirs
        description = (f"Synthetic demo: {s.sequences} sequence(s) of {s.frames} frames made by "
                       f"`track synth` (seed {s.seed}).")
    else:
        data_root = s.data
        all_dirs = [q_.root for q_ in real]
        framed_dirs = [q_.root for q_ in real if q_.has_frames]
        names = [d.name for d in all_dirs]
        base = []
        description = (f"MOTChallenge data under {s.data}: {len(all_dirs)} sequence(s) with ground "
                       f"truth, {len(framed_dirs)} with frames.")
        lacking = [d.name for d in all_dirs if d not in framed_dirs]
        if lacking:
            notes.append(f"{', '.join(lacking)} have no frames (no img1/ and no video): only SORT and "
                         f"DeepSORT motion-only track them; the appearance runs use "
                         f"{', '.join(d.name for d in framed_dirs) or 'no sequence'}.")
    learned = s.learned and bool(framed_dirs)
    if s.learned and not framed_dirs:
        notes.append("no sequence has frames: no crops, no training, no appearance runs")

    models_dir, runs_dir, calib_dir = s.out / "models", s.out / "runs", s.out / "calibration"
    crops = s.work / "crops" / "det"
    model_names = tuple(MODEL_LABELS)
    calib_rows: list[dict] = []
    if learned:
        from appearance.model.kinds import VAE_KINDS
        from appearance.training.config import KIND_DEFAULTS

        def cut() -> None:
            from tools.track.descriptors import cut_crops

            def call() -> None:
                cut_crops(_open(framed_dirs), crops, force=True, progress=s.progress)

            p.track("cut detection crops", ["crops", "--seq", *map(str, framed_dirs), "--out", str(crops),
                                            "--force", *q], call)

        stages.append(Stage("cut detection crops", {"seqs": [str(d) for d in framed_dirs], "v": 1},
                            [crops / "info.json"], cut, deps=base))
        for m in model_names:
            out = models_dir / m

            def train(m=m, out=out) -> None:
                from tools.track.descriptors import train_descriptor

                stage = f"train {m}"
                argv = ["train", "--model", m, "--crops", str(crops), "--out", str(out), "--preset", "cpu",
                        "--steps", str(s.steps), "--batch-size", str(s.batch_size), "--seed", str(s.seed),
                        "--checkpoint-every", "100", *q]
                changes = {"model": m, "crops": [str(crops)], "preset": "cpu", "steps": s.steps,
                           "batch_size": s.batch_size, "seed": s.seed, "checkpoint_every": 100,
                           "progress": None if s.progress else False}
                if s.batch_size < 16:
                    argv += ["--flat-batch", str(s.batch_size)]   # the preset's 16 needs batch >= 16
                    changes["flat_batch"] = s.batch_size
                if s.threads:
                    argv += ["--threads", str(s.threads)]
                    changes["threads"] = s.threads
                resume = (out / "checkpoint.pt").is_file()   # same key as the interrupted run: continue it
                if resume:
                    argv.append("--resume")
                p.track(stage, argv, lambda: train_descriptor(out, changes, resume=resume))

            key = {"steps": s.steps, "batch": s.batch_size, "seed": s.seed}
            if m in VAE_KINDS:   # their default recipe changed: a demo trained before it retrains them
                key["recipe"] = KIND_DEFAULTS[m]
            stages.append(Stage(f"train {m}", key,
                                [out / "checkpoint.pt", out / "log.csv"], train, deps=["cut detection crops"],
                                clean=[out]))
        for m in model_names:
            ckpt = models_dir / m / "checkpoint.pt"

            def calibrate(m=m, ckpt=ckpt) -> None:
                from tools.track.calibration import calibrate_descriptor

                spec, json_path, plot = f"{m}:{ckpt}", calib_dir / f"{m}.json", calib_dir / f"{m}.png"
                argv = ["calibrate", "--seq", *map(str, framed_dirs), "--appearance", spec,
                        "--metric", "cosine", "--json", str(json_path), "--plot", str(plot), *q]

                def call() -> int:
                    cal = calibrate_descriptor(_open(framed_dirs), spec, metric="cosine", json_path=json_path,
                                               plot=plot, progress=s.progress)
                    return 1 if cal.label_free.proposal is None else 0

                p.track(f"calibrate {m}", argv, call, ok_codes=(0, 1))

            stages.append(Stage(f"calibrate {m}", {"v": 1}, [calib_dir / f"{m}.json"], calibrate,
                                deps=[f"train {m}"], clean=[calib_dir / f"{m}.json", calib_dir / f"{m}.png"]))

    # (name, label, `track run` tracker flags by option name, sequences, learned model)
    runs: list[tuple[str, str, dict[str, object], list[Path], str | None]] = [
        ("sort", "SORT", {"tracker": "sort"}, all_dirs, None),
        ("deepsort-motion", "DeepSORT motion-only", {"tracker": "deepsort", "appearance": "none"}, all_dirs, None),
        ("bytetrack", "ByteTrack", {"tracker": "bytetrack"}, all_dirs, None),
        ("ocsort", "OC-SORT", {"tracker": "ocsort"}, all_dirs, None),
    ]
    if framed_dirs:
        runs.append(("deepsort-hist", "DeepSORT + colour histogram",
                     {"tracker": "deepsort", "appearance": "hist"}, framed_dirs, None))
    if learned:
        runs.append(("deepsort-tracklet", f"DeepSORT (EMA {HEADLINE_EMA:g}) + tracklet classifier",
                     {"ema_alpha": HEADLINE_EMA}, framed_dirs, "tracklet"))
        runs.append(("deepsort-vhp-vae", "DeepSORT + VHP-VAE", {}, framed_dirs, "vhp-vae"))
        runs.append(("deepsort-fmvae", "DeepSORT + VHP-FMVAE", {}, framed_dirs, "fmvae"))
    for name, label, flags, dirs, model in runs:
        def track_run(name=name, flags=flags, dirs=dirs, model=model) -> None:
            from tools.track.experiment import run_experiment
            from tools.track.run_config import resolve

            argv = ["run", "--seq", *map(str, dirs), "--results-root", str(runs_dir), "--experiment", name,
                    *config_argv(flags), *q]
            given = dict(flags)
            if model is not None:
                ckpt = models_dir / model / "checkpoint.pt"
                # the threshold as the command line carries it, so the run and its command agree
                t = float(f"{_threshold(calib_dir / f'{model}.json')[0]:.6g}")
                extra = {"tracker": "deepsort", "appearance": f"{model}:{ckpt}", "metric": "cosine",
                         "max_distance": t}
                argv += config_argv(extra)
                given.update(extra)

            def call() -> None:
                run_experiment(_open(dirs), resolve(None, given), runs_dir / name, progress=s.progress,
                               command=["track", *argv])

            p.track(f"track: {name}", argv, call)

        deps = list(base) + ([f"calibrate {model}"] if model else [])
        stages.append(Stage(f"track: {name}", {"flags": config_argv(flags), "seqs": [str(d) for d in dirs]},
                            [runs_dir / name / "data" / f"{d.name}.txt" for d in dirs] + [runs_dir / name / "summary.json"],
                            track_run, deps=deps, clean=[runs_dir / name]))

    def report() -> None:
        for m in (model_names if learned else ()):
            rec = read_record(calib_dir / f"{m}.json")
            used, why, proposal = calibration_choice(rec or {})
            calib_rows.append({"model": m, "label": MODEL_LABELS[m],
                               "metric": "cosine", "auc": ((rec or {}).get("label-free") or {}).get("auc"),
                               "proposal": proposal, "default": DEFAULT_DISTANCE, "used": used, "why": why,
                               "plot": str(calib_dir / f"{m}.png")})
        seconds = time.perf_counter() - p.t0
        manifest = {
            "title": "track demo" + (f": {s.data}" if s.data else ": synthetic sequences"),
            "description": description,
            "command": s.command,
            "created": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": _machine(),
            "seconds": seconds,
            "cpu_seconds": time.process_time() - p.c0,
            "runs": [{"name": n, "label": lab} for n, lab, *_ in runs],
            "reference": "deepsort-tracklet" if learned else "deepsort-motion",
            "sequences": {d.name: str(d) for d in all_dirs},
            "models": [{"name": m, "label": MODEL_LABELS[m]}
                       for m in (model_names if learned else ())],
            "calibration": calib_rows,
            "notes": notes + [f"training: cpu preset, {s.steps} steps of batch {s.batch_size} per model"
                              if learned else "no training"],
            "stages": p.timings,
            "commands": p.commands,
        }
        atomic_write_text(s.out / "report.json", json.dumps(manifest, indent=1, default=str) + "\n")
        paths = build_report(s.out)
        built.append(paths)
        p.stage_commands.setdefault("write the report", []).append(f"track report {s.out}")
        print(f"    wrote {paths.html} and {paths.markdown} ({paths.moments} disagreement moment(s))")

    built: list = []
    stages.append(Stage("write the report", {"time": time.time()}, [s.out / "report.html"], report,
                        deps=[st.name for st in stages]))
    p.run(stages)
    return DemoResult(s.out / "report.html", s.out / "report.md", time.perf_counter() - p.t0,
                      time.process_time() - p.c0, p.timings, built[-1] if built else None)


def _open(dirs: list[Path]) -> list:
    """The sequences in these folders, as `--seq FOLDER ...` finds them."""
    from tools.io.sequence import find_sequence

    return [find_sequence(str(d)) for d in dirs]


def _make_synthetic(root: Path, s: DemoSettings) -> None:
    """`track synth --out ROOT --split train` with the demo's sequences, frames, people and seed."""
    from tqdm import tqdm

    from tools.data.synth import SynthConfig, make_dataset

    try:
        config = SynthConfig(frames=s.frames, people=s.people, seed=s.seed)
    except ValueError as exc:
        raise InputError(None, f"synthetic sequences: {exc}") from None
    with tqdm(total=s.sequences * s.frames, unit="frame", desc="synth") as bar:
        paths = make_dataset(root, s.sequences, config, "train", on_frame=lambda _frame: bar.update(1))
    for path in paths:
        print(path)


def _threshold(path: Path) -> tuple[float, str, float | None]:
    return calibration_choice(read_record(path) or {})


def _machine() -> str:
    """CPU model and usable cores, for the report's timing line."""
    from tools.io.machine import cpu_model, usable_cores

    return f"{usable_cores()} CPU cores ({cpu_model(platform.processor() or platform.machine())})"
