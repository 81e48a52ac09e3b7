"""MOTChallenge text formats (det.txt, gt.txt, results, seqinfo.ini) and DeepSORT .npy detections.

Every reader validates as it parses, so bad input ends in an InputError naming the file and line
rather than in a NumPy traceback deep inside the tracker.
"""
from __future__ import annotations

import configparser
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tools.atomic import atomic_open
from tools.errors import InputError

# Minimum column counts: frame, id, x, y, w, h, then conf for detections.
_MIN_COLS = {"det": 7, "gt": 6, "results": 6}


@dataclass
class MotRows:
    """Rows of a MOT text file with the 1-based source line of each row (for error messages)."""

    data: np.ndarray  # (N, C) float64, C >= 10 (padded with -1)
    line: np.ndarray  # (N,) int64
    path: Path
    feature: np.ndarray | None = None  # (N, D) float32 for DeepSORT .npy files

    def __len__(self) -> int:
        return len(self.data)

    def error(self, index: int, message: str) -> InputError:
        return InputError(self.path, message, int(self.line[index]))


def read_mot_file(path: str | Path, kind: str = "det") -> MotRows:
    """Parse a comma (or whitespace) separated MOT file and validate every row."""
    path = Path(path)
    if kind not in _MIN_COLS:
        raise ValueError(f"unknown MOT file kind {kind!r}")
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read: {exc}") from None
    rows: list[list[float]] = []
    lines: list[int] = []
    min_cols = _MIN_COLS[kind]
    for number, raw in enumerate(io.StringIO(text), start=1):
        raw = raw.strip()
        if not raw or raw.startswith("#"):
            continue
        fields = raw.replace(",", " ").split()
        if len(fields) < min_cols:
            raise InputError(path, f"expected at least {min_cols} columns, got {len(fields)}", number)
        try:
            values = [float(f) for f in fields]
        except ValueError:
            bad = next(f for f in fields if not _is_float(f))
            raise InputError(path, f"not a number: {bad!r}", number) from None
        _check_row(values, kind, path, number)
        rows.append(values)
        lines.append(number)
    width = max([10] + [len(r) for r in rows])
    data = np.full((len(rows), width), -1.0)
    for i, r in enumerate(rows):
        data[i, : len(r)] = r
    return MotRows(data, np.asarray(lines, dtype=np.int64), path)


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _check_row(values: list[float], kind: str, path: Path, number: int) -> None:
    frame = values[0]
    if not math.isfinite(frame) or frame != int(frame) or frame < 1:
        raise InputError(path, f"frame must be a positive integer, got {values[0]:g}", number)
    if not math.isfinite(values[1]) or values[1] != int(values[1]):
        raise InputError(path, f"id must be an integer, got {values[1]:g}", number)
    box = values[2:6]
    if not all(math.isfinite(v) for v in box):
        raise InputError(path, "box has a NaN or infinite value", number)
    if box[2] <= 0 or box[3] <= 0:
        raise InputError(path, f"box has zero or negative size ({box[2]:g} x {box[3]:g})", number)
    if kind == "det" and not math.isfinite(values[6]):
        raise InputError(path, "confidence is NaN or infinite", number)


def check_in_image(rows: MotRows, width: int, height: int, length: int | None = None) -> None:
    """Reject boxes that lie wholly outside the image and frames beyond the sequence."""
    d = rows.data
    x, y, w, h = d[:, 2], d[:, 3], d[:, 4], d[:, 5]
    outside = (x + w <= 0) | (y + h <= 0) | (x >= width) | (y >= height)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise rows.error(i, f"box ({x[i]:g}, {y[i]:g}, {w[i]:g}, {h[i]:g}) lies outside "
                            f"the {width}x{height} image")
    if length is not None and len(d):
        late = d[:, 0] > length
        if late.any():
            i = int(np.flatnonzero(late)[0])
            raise rows.error(i, f"frame {int(d[i, 0])} is beyond the sequence length {length}")


@dataclass(frozen=True)
class SeqInfo:
    name: str
    frame_rate: float
    length: int
    width: int
    height: int
    im_dir: str = "img1"
    im_ext: str = ".jpg"


_SEQINFO_KEYS = {"name": str, "frameRate": float, "seqLength": int, "imWidth": int, "imHeight": int}


def read_seqinfo(path: str | Path) -> SeqInfo:
    path = Path(path)
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive camelCase
    try:
        parser.read_string(path.read_text(), source=str(path))
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(path, f"not an ini file: {exc.message.splitlines()[0]}", line) from None
    if "Sequence" not in parser:
        raise InputError(path, "missing [Sequence] section")
    sec = parser["Sequence"]
    values = {}
    for key, cast in _SEQINFO_KEYS.items():
        if key not in sec:
            raise InputError(path, f"missing key {key!r} in [Sequence]")
        try:
            values[key] = cast(sec[key])
        except ValueError:
            raise InputError(path, f"key {key!r} is not a {cast.__name__}: {sec[key]!r}") from None
        if cast is not str and values[key] <= 0:
            raise InputError(path, f"key {key!r} must be positive, got {sec[key]}")
    return SeqInfo(values["name"], values["frameRate"], values["seqLength"], values["imWidth"],
                   values["imHeight"], sec.get("imDir", "img1"), sec.get("imExt", ".jpg"))


def write_seqinfo(path: str | Path, info: SeqInfo) -> None:
    text = (f"[Sequence]\nname={info.name}\nimDir={info.im_dir}\nframeRate={info.frame_rate:g}\n"
            f"seqLength={info.length}\nimWidth={info.width}\nimHeight={info.height}\n"
            f"imExt={info.im_ext}\n")
    with atomic_open(path) as fh:
        fh.write(text)


def format_results(rows: np.ndarray) -> str:
    """MOTChallenge result rows (frame, id, x, y, w, h) as the original trackers print them."""
    out = io.StringIO()
    for r in rows:
        out.write("%d,%d,%.2f,%.2f,%.2f,%.2f,1,-1,-1,-1\n" % (r[0], r[1], r[2], r[3], r[4], r[5]))
    return out.getvalue()


def write_results(path: str | Path, rows: np.ndarray) -> None:
    with atomic_open(path) as fh:
        fh.write(format_results(rows))


def read_npy_detections(path: str | Path) -> MotRows:
    """DeepSORT's detection file: 10 MOT columns followed by the appearance feature."""
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(path, f"not a NumPy array file: {exc}") from None
    if arr.ndim != 2 or arr.shape[1] < 10 or not np.issubdtype(arr.dtype, np.number):
        raise InputError(path, f"expected a 2-D numeric array with at least 10 columns, got "
                               f"shape {arr.shape} dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    for i, row in enumerate(arr):
        if not np.isfinite(row).all():
            raise InputError(path, "row has a NaN or infinite value", i + 1)
        _check_row(list(row[:7]), "det", path, i + 1)
    feature = arr[:, 10:].astype(np.float32) if arr.shape[1] > 10 else None
    return MotRows(arr[:, :10].copy(), np.arange(1, len(arr) + 1), path, feature)


def write_npy_detections(path: str | Path, rows: np.ndarray, feature: np.ndarray) -> None:
    """Write rows (N, >=10) and features (N, D) as DeepSORT's float .npy detection file."""
    rows = np.asarray(rows, dtype=np.float64)[:, :10]
    arr = np.concatenate([rows, np.asarray(feature, dtype=np.float64)], axis=1)
    with atomic_open(path, "wb") as fh:
        np.save(fh, arr.astype(np.float32), allow_pickle=False)
