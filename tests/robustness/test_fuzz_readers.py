"""Property-based fuzzing of every reader of user files: det.txt, gt.txt, seqinfo.ini, DeepSORT
.npy detections, result files given to `track eval`, and TOML run configurations.

The property is the same for each: a file either loads into values that satisfy the format's
invariants, or the reader raises InputError naming that file (and the line, where the fault sits
on one) in a single line of text. Any other exception is a crash and fails the test.

The generators start from valid files and damage them (bad numbers, missing or extra columns,
NaN/inf, huge values, duplicated ids, stray bytes, truncation, forged .npy headers, hostile
containers), since wholly random bytes rarely get past the first check.

Case counts: FUZZ_EXAMPLES (default 200) per reader in the normal suite; the slow variants
(`pytest -m slow tests/test_fuzz_readers.py`, or `make fuzz`) run FUZZ_EXAMPLES or 10,000 per
reader. Set FUZZ_REPORT=path.json to get the per-reader tallies (cases, accepted, refused,
crashes) written at the end of the module.
"""
from __future__ import annotations

import dataclasses
import io
import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.conftest import write_sequence
from tests.robustness.fuzzing import TALLY, write_report
from tools.io.errors import InputError
from tools.eval.evaluation import COLUMNS, COMBINED, evaluate
from tools.io.motformat import MAX_COORD, MAX_ID, MAX_LENGTH, SeqInfo, read_seqinfo, write_seqinfo
from tools.io.sequence import Sequence

# A reader's warning (an overflow, NumPy's notes on odd headers, TrackEval's NaNs) counts as a
# failure too: bad input must be refused, not half-handled.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning", "error::UserWarning")

NORMAL_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
SLOW_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10000"))
WIDTH, HEIGHT, LENGTH = 320, 240, 20  # the sequence every det/gt/npy/results case is read against



def _settings(examples: int):
    return settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much, HealthCheck.large_base_example])


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    write_report()


@pytest.fixture(scope="module")
def seq(tmp_path_factory) -> Sequence:
    """One sequence folder (320x240, 20 frames, valid gt) whose det files the cases overwrite."""
    root = tmp_path_factory.mktemp("fuzz")
    folder = write_sequence(root, "FUZZ-01", length=LENGTH, images=False)
    return Sequence.open(folder)


# ---------------------------------------------------------------- the property


def expect_clean(reader: str, path: Path, call, n_lines: int | None, need_line: bool):
    """Run `call`; an InputError must name `path`, be one line, and carry a line in 1..n_lines
    when `need_line` (or whenever it carries one). Returns the value, or None when refused."""
    TALLY[reader]["cases"] += 1
    try:
        value = call()
    except InputError as exc:
        TALLY[reader]["refused"] += 1
        event(f"refused: {exc.message.split(':')[0][:40]}")
        assert exc.path == str(path), f"error names {exc.path!r}, not the file {path}"
        text = str(exc)
        assert exc.message and "\n" not in text and "\r" not in text, repr(text)
        if need_line:
            assert exc.line is not None, f"no line number: {text}"
        if exc.line is not None and n_lines is not None:
            assert 1 <= exc.line <= max(n_lines, 1), f"line {exc.line} of {n_lines}: {text}"
        return None
    except BaseException:
        TALLY[reader]["crashes"] += 1
        raise
    TALLY[reader]["accepted"] += 1
    event("accepted")
    return value


def count_lines(text: str) -> int:
    return len(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def content_lines(text: str) -> int:
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    return sum(1 for raw in body.split("\n") if raw.strip() and not raw.strip().startswith("#"))


def check_rows(rows, kind: str, n_content: int | None) -> None:
    """Invariants of accepted MOT rows (after the sequence's image and length checks)."""
    d = rows.data
    assert d.ndim == 2 and d.shape[1] >= 10 and d.dtype == np.float64
    assert len(rows.line) == len(d)
    if n_content is not None:
        assert len(d) == n_content
    if len(d):
        assert np.all(np.diff(rows.line) > 0) and rows.line[0] >= 1
        assert np.isfinite(d[:, :6]).all()
        assert np.all(d[:, 0] == np.floor(d[:, 0])) and d[:, 0].min() >= 1 and d[:, 0].max() <= LENGTH
        assert np.all(d[:, 1] == np.floor(d[:, 1])) and np.abs(d[:, 1]).max() <= MAX_ID
        assert (d[:, 4] > 0).all() and (d[:, 5] > 0).all() and np.abs(d[:, 2:6]).max() <= MAX_COORD
        x, y, w, h = d[:, 2], d[:, 3], d[:, 4], d[:, 5]
        assert ((x + w > 0) & (y + h > 0) & (x < WIDTH) & (y < HEIGHT)).all()
        if kind == "det":
            assert np.isfinite(d[:, 6]).all()


# ---------------------------------------------------------------- MOT text generators

ODD_NUMBERS = ["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e309", "-1e309", "0", "-0", "-1",
               "1e-320", "1e308", "2147483647", "2147483648", "-2147483648", "9223372036854775808",
               "10000000", "10000001", "1_0", "0x10", "", " ", "1.5.2", "--1", "+1", "\u0661", "1e",
               ".", "1,", "\u00a0", "\x00", "\ufeff1", "3.0000000001", "2.999999999999999999"]
JUNK = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=5)


def number_text(lo: float, hi: float, integer: bool = False) -> st.SearchStrategy[str]:
    plain = (st.integers(int(lo), int(hi)).map(str) if integer
             else st.floats(lo, hi, allow_nan=False).map(lambda v: f"{v:.6g}"))
    return st.one_of(plain, plain, plain, plain, st.sampled_from(ODD_NUMBERS), JUNK,
                     st.floats(allow_nan=True, allow_infinity=True).map(repr))


@st.composite
def mot_row(draw, kind: str) -> str:
    """A MOT row: mostly plausible values, with odd ones, missing or extra columns mixed in."""
    cells = [draw(number_text(1, LENGTH + 2, integer=True)),
             draw(number_text(-1, 6, integer=True)),
             draw(number_text(-40, WIDTH + 20)), draw(number_text(-40, HEIGHT + 20)),
             draw(number_text(0, 120)), draw(number_text(0, 160))]
    if kind == "det":
        cells.append(draw(number_text(-1, 1)))
    elif kind == "gt":
        cells += [draw(number_text(0, 1, integer=True)), draw(number_text(1, 13, integer=True)),
                  draw(number_text(0, 1))]
    else:
        cells += ["1", "-1", "-1", "-1"]
    extra = draw(st.lists(number_text(-2, 2), max_size=4))
    cells += extra
    cut = draw(st.integers(0, 3))
    if cut and draw(st.booleans()):
        cells = cells[:-cut] if cut < len(cells) else []
    sep = draw(st.sampled_from([",", ",", ",", ", ", " ", "\t", ",,", ";", " ,"]))
    return sep.join(cells)


@st.composite
def valid_mot_row(draw, kind: str) -> str:
    frame = draw(st.integers(1, LENGTH))
    ident = draw(st.integers(1, 6)) if kind != "det" else -1
    x = draw(st.floats(-20, WIDTH - 5, allow_nan=False))
    y = draw(st.floats(-20, HEIGHT - 5, allow_nan=False))
    w = draw(st.floats(25, 80, allow_nan=False))
    h = draw(st.floats(25, 120, allow_nan=False))
    tail = {"det": [f"{draw(st.floats(0, 1)):.3f}", "-1", "-1", "-1"],
            "gt": ["1", "1", f"{draw(st.floats(0, 1)):.3f}"],
            "results": ["1", "-1", "-1", "-1"]}[kind]
    return ",".join([str(frame), str(ident), f"{x:.2f}", f"{y:.2f}", f"{w:.2f}", f"{h:.2f}", *tail])


@st.composite
def mot_text(draw, kind: str) -> bytes:
    """A whole MOT file as bytes: mostly valid rows, some damaged, odd line ends, BOM, stray bytes."""
    line = st.one_of(valid_mot_row(kind), valid_mot_row(kind), valid_mot_row(kind), mot_row(kind),
                     st.sampled_from(["", "   ", "# comment", "#", "\t", "\x0c", "\u2028", "1"]), JUNK)
    lines = draw(st.lists(line, max_size=14))
    newline = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")
    if draw(st.integers(0, 9)) == 0:
        text = "\ufeff" + text
    data = text.encode("utf-8", "surrogatepass")
    return draw(damage_bytes(data))


@st.composite
def damage_bytes(draw, data: bytes) -> bytes:
    """Leave the bytes alone most of the time; else truncate, flip, insert or append bytes."""
    how = draw(st.integers(0, 11))
    if how == 1 and data:
        return data[:draw(st.integers(0, len(data) - 1))]
    if how == 2 and data:
        i = draw(st.integers(0, len(data) - 1))
        return data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1:]
    if how == 3:
        i = draw(st.integers(0, len(data)))
        return data[:i] + draw(st.binary(min_size=1, max_size=6)) + data[i:]
    if how == 4:
        return draw(st.binary(max_size=64))
    return data


# ---------------------------------------------------------------- det.txt, gt.txt


def check_det(seq: Sequence, data: bytes) -> None:
    seq.det_path.write_bytes(data)
    text = data.decode("utf-8", "replace")
    rows = expect_clean("det.txt", seq.det_path, seq.detections, count_lines(text), need_line=True)
    if rows is not None:
        check_rows(rows, "det", content_lines(data.decode("utf-8-sig")))


def check_gt(seq: Sequence, data: bytes) -> None:
    seq.gt_path.write_bytes(data)
    text = data.decode("utf-8", "replace")
    rows = expect_clean("gt.txt", seq.gt_path, seq.ground_truth, count_lines(text), need_line=True)
    if rows is not None:
        check_rows(rows, "gt", content_lines(data.decode("utf-8-sig")))


@_settings(NORMAL_EXAMPLES)
@given(data=mot_text("det"))
def test_fuzz_det_txt(seq, data):
    check_det(seq, data)


@_settings(NORMAL_EXAMPLES)
@given(data=mot_text("gt"))
def test_fuzz_gt_txt(seq, data):
    check_gt(seq, data)


@settings(max_examples=100, deadline=None, database=None)
@given(rows=st.lists(valid_mot_row("det"), max_size=10), newline=st.sampled_from(["\n", "\r\n"]))
def test_valid_det_rows_all_load_with_their_values(seq, rows, newline):
    """The other half of the property: the reader refuses nothing that is valid."""
    seq.det_path.write_text(newline.join(rows) + newline, newline="")
    got = seq.detections()
    want = np.array([[float(v) for v in r.split(",")] for r in rows]).reshape(-1, 10)
    np.testing.assert_array_equal(got.data, want)
    assert got.line.tolist() == list(range(1, len(rows) + 1))


# ---------------------------------------------------------------- seqinfo.ini

SEQINFO_KEYS = ["name", "imDir", "frameRate", "seqLength", "imWidth", "imHeight", "imExt"]


@st.composite
def seqinfo_text(draw) -> bytes:
    values = {"name": "FUZZ-01", "imDir": "img1", "frameRate": "30", "seqLength": "600",
              "imWidth": "1920", "imHeight": "1080", "imExt": ".jpg"}
    odd_values = st.one_of(st.sampled_from(ODD_NUMBERS + ["/etc", "../x", "a/../../b", "..", "img1/",
                                                          ".png", "x/.jpg", "C:\\x", "%(name)s"]),
                           number_text(-5, 20_000_000, integer=True), JUNK)
    lines = ["[Sequence]"]
    for key in SEQINFO_KEYS:
        value = draw(odd_values) if draw(st.integers(0, 4)) == 0 else values[key]
        sep = draw(st.sampled_from(["=", "=", " = ", ":", " : "]))
        lines.append(f"{key}{sep}{value}")
    # damage the structure: drop, duplicate, insert, move lines
    ops = draw(st.lists(st.integers(0, 6), max_size=3))
    for op in ops:
        i = draw(st.integers(0, len(lines)))
        if op == 0 and i < len(lines):
            del lines[i]
        elif op == 1 and i < len(lines):
            lines.insert(i, lines[i])
        elif op == 2:
            lines.insert(i, draw(st.sampled_from(
                ["[Other]", "[DEFAULT]", "[Sequence]", "[", "[]", "]", "[Sequence] trailing",
                 "  indented=1", "  continuation", "; comment", "# comment", "", "key", "=1",
                 "frameRate=nan", "seqLength=0", "[sequence]", "imDir=/tmp"])))
        elif op == 3:
            lines.insert(i, draw(JUNK))
        elif op == 4 and i < len(lines):
            lines[i] = "  " + lines[i]
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    data = newline.join(lines).encode("utf-8", "surrogatepass")
    return draw(damage_bytes(data))


def check_seqinfo(folder: Path, data: bytes) -> None:
    path = folder / "seqinfo.ini"
    path.write_bytes(data)
    text = data.decode("utf-8", "replace")
    info = expect_clean("seqinfo.ini", path, lambda: read_seqinfo(path), count_lines(text),
                        need_line=False)
    if info is None:
        return
    assert isinstance(info.name, str) and isinstance(info.im_dir, str) and isinstance(info.im_ext, str)
    assert math.isfinite(info.frame_rate) and info.frame_rate > 0
    for v in (info.length, info.width, info.height):
        assert isinstance(v, int) and v > 0
    assert info.length <= MAX_LENGTH
    assert not info.im_dir.startswith("/") and ".." not in info.im_dir.replace("\\", "/").split("/")
    assert "/" not in info.im_ext and "\0" not in info.im_dir + info.im_ext


@pytest.fixture(scope="module")
def ini_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ini")


def seqinfo_error_has_line(folder: Path, data: bytes) -> None:
    """Errors about one key or one bad line name that line; only a missing section has none."""
    path = folder / "seqinfo.ini"
    path.write_bytes(data)
    try:
        read_seqinfo(path)
    except InputError as exc:
        if "missing [Sequence] section" not in exc.message and "is a folder" not in exc.message:
            assert exc.line is not None, str(exc)


@_settings(NORMAL_EXAMPLES)
@given(data=seqinfo_text())
def test_fuzz_seqinfo_ini(ini_folder, data):
    check_seqinfo(ini_folder, data)
    seqinfo_error_has_line(ini_folder, data)


@settings(max_examples=100, deadline=None, database=None)
@given(name=st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True), rate=st.floats(0.5, 240),
       length=st.integers(1, MAX_LENGTH), w=st.integers(1, 10000), h=st.integers(1, 10000))
def test_valid_seqinfo_round_trips(ini_folder, name, rate, length, w, h):
    info = SeqInfo(name, float(f"{rate:g}"), length, w, h)
    write_seqinfo(ini_folder / "rt.ini", info)
    assert read_seqinfo(ini_folder / "rt.ini") == info


# ---------------------------------------------------------------- DeepSORT .npy


def valid_npy_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    rows = np.full((n, 10 + dim), -1.0)
    rows[:, 0] = rng.integers(1, LENGTH + 1, n)
    rows[:, 2] = rng.uniform(-10, WIDTH - 40, n)
    rows[:, 3] = rng.uniform(-10, HEIGHT - 40, n)
    rows[:, 4:6] = rng.uniform(20, 60, (n, 2))
    rows[:, 6] = rng.uniform(0, 1, n)
    rows[:, 10:] = rng.normal(size=(n, dim))
    return rows


NPY_DTYPES = ["<f8", "<f4", "<f2", ">f8", "<i8", "<i4", "<u1", "<u8", "|b1", "<c8", "<U3", "<M8[s]",
              "|V8", [("a", "<f8"), ("b", "<i4")]]
ODD_FLOATS = [np.nan, np.inf, -np.inf, 0.0, -1.0, 0.5, 1e308, -1e308, 1e-320, 2.0**31, 1e7 + 1]


@st.composite
def npy_bytes(draw) -> bytes:
    kind = draw(st.integers(0, 9))
    buf = io.BytesIO()
    if kind <= 4:  # a detection array, perhaps with damaged cells, another dtype or shape
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        n, dim = draw(st.integers(0, 12)), draw(st.integers(0, 6))
        arr = valid_npy_rows(rng, n, dim)
        for _ in range(draw(st.integers(0, 3))):
            if n:
                arr[draw(st.integers(0, n - 1)), draw(st.integers(0, 9 + dim))] = draw(st.sampled_from(ODD_FLOATS))
        dtype = draw(st.sampled_from(["<f8", "<f4", "<f8", "<f4"] + NPY_DTYPES))
        with np.errstate(all="ignore"):
            if isinstance(dtype, list) or np.dtype(dtype).kind in "MV":
                arr = np.zeros(arr.shape, dtype=dtype)
            else:
                arr = arr.astype(dtype)
        shape_op = draw(st.integers(0, 6))
        if shape_op == 1:
            arr = arr.reshape(-1)
        elif shape_op == 2:
            arr = arr[None]
        elif shape_op == 3:
            arr = arr[:, :draw(st.integers(0, arr.shape[1] if arr.ndim == 2 else 0))] if arr.ndim == 2 else arr
        elif shape_op == 4:
            arr = np.asfortranarray(arr)
        np.save(buf, arr, allow_pickle=False)
        data = buf.getvalue()
    elif kind == 5:  # an arbitrary array from hypothesis
        arr = draw(hnp.arrays(dtype=st.sampled_from([np.float64, np.float32, np.int16, np.bool_]),
                              shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=12)))
        np.save(buf, arr, allow_pickle=False)
        data = buf.getvalue()
    elif kind == 6:  # an object array: loading it would unpickle
        arr = np.array([[{"x": 1}] * 10], dtype=object)
        np.save(buf, arr, allow_pickle=True)
        data = buf.getvalue()
    elif kind == 7:  # another container under the .npy name: npz, a pickle, an empty file
        which = draw(st.integers(0, 2))
        if which == 0:
            np.savez(buf, a=np.zeros((2, 10)))
        elif which == 1:
            pickle.dump(np.zeros((2, 10)), buf)
        data = buf.getvalue()
    else:  # a forged header: the shape, dtype or order text rewritten
        np.save(buf, valid_npy_rows(np.random.default_rng(kind), 3, 2), allow_pickle=False)
        data = buf.getvalue()
        header_end = data.index(b"\n") + 1
        header = data[10:header_end].decode("latin1")
        forged = draw(st.sampled_from([
            ("(3, 12)", "(99999999999, 12)"), ("(3, 12)", "(-3, 12)"), ("(3, 12)", "(3, -12)"),
            ("(3, 12)", "(12, 3)"), ("(3, 12)", "(4, 12)"), ("(3, 12)", "()"), ("(3, 12)", "(3,)"),
            ("(3, 12)", "(3, 12, 1)"), ("(3, 12)", "'x'"), ("'<f8'", "'<f16'"), ("'<f8'", "'O'"),
            ("'<f8'", "'<i2'"), ("'<f8'", "'x'"), ("False", "True"), ("False", "None"),
            ("'descr'", "'desc'"), ("{", "["), ("}", ")"), ("(3, 12)", "(3, 12" + ", 1" * 40 + ")")]))
        header = header.replace(*forged)
        data = data[:10] + header.encode("latin1") + data[header_end:]
        if draw(st.booleans()):  # keep the declared header length consistent with the text
            data = data[:8] + len(header).to_bytes(2, "little") + data[10:]
    return draw(damage_bytes(data))


def check_npy(seq: Sequence, data: bytes) -> None:
    path = seq.root / "det" / "det.npy"
    path.write_bytes(data)
    rows = expect_clean("det.npy", path, lambda: seq.detections(path), None, need_line=False)
    if rows is None:
        return
    check_rows(rows, "det", None)
    assert rows.data.shape[1] == 10
    if rows.feature is not None:
        assert rows.feature.dtype == np.float32 and rows.feature.shape[0] == len(rows.data)
        assert np.isfinite(rows.feature).all()
    assert rows.line.tolist() == list(range(1, len(rows.data) + 1))


@_settings(NORMAL_EXAMPLES)
@given(data=npy_bytes())
def test_fuzz_deepsort_npy(seq, data):
    check_npy(seq, data)


# ---------------------------------------------------------------- results given to `track eval`


@pytest.fixture(scope="module")
def eval_dirs(tmp_path_factory) -> tuple[Path, Path]:
    """Ground truth for one 20-frame sequence (valid, MOT16-style classes) and a results folder."""
    root = tmp_path_factory.mktemp("eval")
    gt_rows = [f"{f},1,{20 + 5 * f},40,30,60,1,1,1" for f in range(1, LENGTH + 1)]
    gt_rows += [f"{f},2,200,50,30,60,1,1,1" for f in range(1, LENGTH + 1)]
    write_sequence(root / "gt", "EVAL-01", length=LENGTH, images=False, gt_rows=gt_rows)
    (root / "res").mkdir()
    return root / "res", root / "gt"


def check_results(dirs: tuple[Path, Path], data: bytes, benchmark: str) -> None:
    res, gt = dirs
    path = res / "EVAL-01.txt"
    path.write_bytes(data)
    text = data.decode("utf-8", "replace")
    summary = expect_clean("results", path, lambda: evaluate(res, gt, benchmark=benchmark),
                           count_lines(text), need_line=True)
    if summary is None:
        return
    assert set(summary) == {"EVAL-01", COMBINED}
    for row in summary.values():
        assert list(row) == COLUMNS
        for col in ("MT", "PT", "ML", "FP", "FN", "IDs", "FM"):
            assert isinstance(row[col], int) and row[col] >= 0
        assert 0 <= row["Rcll"] <= 100 and row["FN"] <= 2 * LENGTH


@_settings(NORMAL_EXAMPLES)
@given(data=mot_text("results"), benchmark=st.sampled_from(["MOT15", "MOT16"]))
def test_fuzz_results_for_track_eval(eval_dirs, data, benchmark):
    check_results(eval_dirs, data, benchmark)


# ---------------------------------------------------------------- TOML run configuration


def _config_loader():
    """tools.track.run_config's loader (another helper's `--config` support), or None while it is absent."""
    try:
        import tools.track.run_config as config
    except ImportError:
        return None
    for name in ("load_config", "read_config", "load"):
        if hasattr(config, name):
            return getattr(config, name)
    return None


def _toml_schema() -> dict[str, dict[str, type]]:
    """Section ("" = top level) -> key -> plain type, from the dataclasses a config file mirrors."""
    import typing

    from tools.track.runner import RunConfig

    def plain(hint) -> type:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0] if args else hint

    hints = typing.get_type_hints(RunConfig)
    schema: dict[str, dict[str, type]] = {"": {}}
    for f in dataclasses.fields(RunConfig):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            inner = typing.get_type_hints(hint)
            schema[f.name] = {g.name: plain(inner[g.name]) for g in dataclasses.fields(hint)}
        elif hint is dict or typing.get_origin(hint) is dict:
            schema[f.name] = {"bins": list, "scale": float}
        else:
            schema[""][f.name] = plain(hint)
    return schema


def toml_value(kind: type) -> tuple[st.SearchStrategy[str], st.SearchStrategy[str]]:
    """TOML literals of the field's type (in and out of range), and odd ones (other types, bad syntax)."""
    good = {int: st.integers(-3, 300).map(str),
            float: st.one_of(st.floats(-1, 2, allow_nan=False).map(repr),
                             st.sampled_from(["nan", "inf", "-inf", "1e400", "0.0", "1"])),
            str: st.sampled_from(['"sort"', '"deepsort"', '"hist"', '"none"', '"auto"', '"cosine"',
                                  '"euclidean"', '"fmvae:/nonexistent.pt"', '""', "'x'"]),
            bool: st.sampled_from(["true", "false"]),
            list: st.sampled_from(["[8, 4, 4]", "[]", '["a", 1]', "[[1]]", "[1, {a = 1}]"])}
    odd = st.sampled_from(['"0.2"', "[]", "{}", "true", "1979-05-27", "0x10", "1_000", '"', "[1, 2",
                           "'''x'''", "nan", "+inf", "9223372036854775808", '"\\ud800"'])
    return good.get(kind, good[str]), st.one_of(odd, JUNK)


@st.composite
def toml_text(draw) -> bytes:
    schema = _toml_schema()
    odd_left = draw(st.sampled_from([0, 0, 0, 1, 1, 2]))  # values of another type or bad syntax

    def value(kind: type) -> str:
        nonlocal odd_left
        good, odd = toml_value(kind)
        if odd_left and draw(st.integers(0, 3)) == 0:
            odd_left -= 1
            return draw(odd)
        return draw(good)

    lines = []
    for key, kind in schema[""].items():
        if draw(st.booleans()):
            lines.append(f"{key} = {value(kind)}")
    for section in [s for s in schema if s]:
        if not draw(st.booleans()):
            continue
        header = f"[{section}]" if draw(st.integers(0, 9)) else draw(st.sampled_from(
            [f"[[{section}]]", f"[{section}", "[run]", f"[{section}.x]"]))
        lines.append(header)
        for key, kind in schema[section].items():
            if draw(st.integers(0, 2)) == 0:
                lines.append(f"{key} = {value(kind)}")
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):  # strays: unknown keys, duplicates, junk
        i = draw(st.integers(0, len(lines)))
        stray = st.one_of(st.sampled_from(["unknown_key = 1", "tracker = 1", "[sort]", "x.y = 2", "=", "#",
                                           "deepsort = 3", "sort.max_age = 2"]), JUNK)
        lines.insert(i, draw(stray))
    return draw(damage_bytes("\n".join(lines).encode("utf-8", "surrogatepass")))


def check_toml(folder: Path, data: bytes) -> None:
    loader = _config_loader()
    path = folder / "run.toml"
    path.write_bytes(data)
    values = expect_clean("config.toml", path, lambda: loader(path),
                          count_lines(data.decode("utf-8", "replace")), need_line=False)
    if values is None:
        return
    import tools.track.run_config as config

    # what the file set must make a RunConfig (the loader has checked every value)
    cfg = config.resolve(values)
    for section, keys in values.items():
        for key, value in keys.items():
            target = cfg if section == "" else getattr(cfg, section)
            got = target.get(key) if isinstance(target, dict) else getattr(target, key)
            assert got == value, (section, key, got, value)
            if isinstance(value, float):
                assert math.isfinite(value)


@pytest.mark.skipif(_config_loader() is None, reason="tools/config.py (--config TOML support) is not there yet")
@_settings(NORMAL_EXAMPLES)
@given(data=toml_text())
def test_fuzz_toml_config(ini_folder, data):
    check_toml(ini_folder, data)


# ---------------------------------------------------------------- slow: 10,000 cases per reader


@pytest.mark.slow
@_settings(SLOW_EXAMPLES)
@given(data=mot_text("det"))
def test_fuzz_det_txt_slow(seq, data):
    check_det(seq, data)


@pytest.mark.slow
@_settings(SLOW_EXAMPLES)
@given(data=mot_text("gt"))
def test_fuzz_gt_txt_slow(seq, data):
    check_gt(seq, data)


@pytest.mark.slow
@_settings(SLOW_EXAMPLES)
@given(data=seqinfo_text())
def test_fuzz_seqinfo_ini_slow(ini_folder, data):
    check_seqinfo(ini_folder, data)
    seqinfo_error_has_line(ini_folder, data)


@pytest.mark.slow
@_settings(SLOW_EXAMPLES)
@given(data=npy_bytes())
def test_fuzz_deepsort_npy_slow(seq, data):
    check_npy(seq, data)


@pytest.mark.slow
@_settings(SLOW_EXAMPLES)
@given(data=mot_text("results"), benchmark=st.sampled_from(["MOT15", "MOT16"]))
def test_fuzz_results_for_track_eval_slow(eval_dirs, data, benchmark):
    check_results(eval_dirs, data, benchmark)


@pytest.mark.slow
@pytest.mark.skipif(_config_loader() is None, reason="tools/config.py (--config TOML support) is not there yet")
@_settings(SLOW_EXAMPLES)
@given(data=toml_text())
def test_fuzz_toml_config_slow(ini_folder, data):
    check_toml(ini_folder, data)


# ---------------------------------------------------------------- regressions: what fuzzing found


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _signalling_nan_rows() -> bytes:
    rows = valid_npy_rows(np.random.default_rng(0), 2, 2).astype(np.float32)
    raw = bytearray(_npy(rows))
    raw[-4:] = (0x7FA00000).to_bytes(4, "little")  # a float32 signalling NaN in the last feature
    return bytes(raw)


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, a=np.zeros((2, 10)))
    return buf.getvalue()


GOOD_NPY = _npy(valid_npy_rows(np.random.default_rng(0), 3, 2))
NPY_REGRESSIONS = {
    # each was an unhandled exception (or a silent bad value) before the reader was fixed
    "npz-under-npy-name": (_zip_bytes(), "magic string"),  # AttributeError: NpzFile has no ndim
    "header-promises-terabytes": (GOOD_NPY.replace(b"(3, 12)", b"(99999999999, 12)"), "truncated"),  # MemoryError
    "header-unclosed-brace": (GOOD_NPY[:10] + GOOD_NPY[10:].replace(b"}", b" ", 1), "not a NumPy array file"),  # tokenize.TokenError
    "feature-beyond-float32": (_npy(np.concatenate([valid_npy_rows(np.random.default_rng(0), 1, 0),
                                                    [[1e300]]], axis=1)), "float32"),  # inf features accepted
    "signalling-nan": (_signalling_nan_rows(), "NaN"),  # RuntimeWarning: invalid value in cast
    "huge-frame": (_npy(np.array([[1e300, -1, 10, 10, 30, 60, 0.9, -1, -1, -1]])), "beyond"),  # accepted, overflowed later
}


@pytest.mark.parametrize("case", list(NPY_REGRESSIONS))
def test_npy_regressions_found_by_fuzzing(seq, case):
    data, message = NPY_REGRESSIONS[case]
    path = seq.root / "det" / "det.npy"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message) as err:
        seq.detections(path)
    assert err.value.path == str(path) and "\n" not in str(err.value)


TEXT_REGRESSIONS = {
    # (file, content, message, line)
    "seqinfo-not-utf8": ("seqinfo.ini", b"\xff\xfe[Sequence]\n", "not UTF-8", 1),  # UnicodeDecodeError
    "seqinfo-nan-rate": ("seqinfo.ini", b"[Sequence]\nname=a\nframeRate=nan\nseqLength=3\nimWidth=3\n"
                         b"imHeight=3\n", "frameRate", 3),  # NaN frame rate accepted
    "seqinfo-huge-length": ("seqinfo.ini", b"[Sequence]\nname=a\nframeRate=1\nseqLength=99999999999\n"
                            b"imWidth=3\nimHeight=3\n", "seqLength", 4),  # later a 800 GB index
    "seqinfo-imdir-outside": ("seqinfo.ini", b"[Sequence]\nname=a\nimDir=../../etc\nframeRate=1\n"
                              b"seqLength=3\nimWidth=3\nimHeight=3\n", "inside the sequence folder", 3),
    "det-huge-id": ("det.txt", b"1,1e300,1,1,1,1,1\n", "out of range", 1),  # int64 overflow later
    "det-huge-box": ("det.txt", b"1,-1,1,1,1e308,1e308,1\n", "beyond", 1),  # w*h overflow in IoU
    "det-not-utf8": ("det.txt", b"1,-1,1,1,1,1,1\n\xff\n", "not UTF-8", 2),
}


@pytest.mark.parametrize("case", list(TEXT_REGRESSIONS))
def test_text_regressions_found_by_fuzzing(tmp_path, case):
    from tools.io.motformat import read_mot_file

    name, data, message, line = TEXT_REGRESSIONS[case]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError, match=message) as err:
        read_seqinfo(path) if name == "seqinfo.ini" else read_mot_file(path, "det")
    assert err.value.path == str(path) and err.value.line == line


def test_seqinfo_that_is_a_folder_is_an_input_error(tmp_path):
    (tmp_path / "seqinfo.ini").mkdir()  # was IsADirectoryError
    with pytest.raises(InputError, match="is a folder"):
        read_seqinfo(tmp_path / "seqinfo.ini")
