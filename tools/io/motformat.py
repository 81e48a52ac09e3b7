"""MOTChallenge text formats (det.txt, gt.txt, results, seqinfo.ini) and DeepSORT .npy detections.

Every reader validates as it parses, so bad input ends in an InputError naming the file and line
rather than in a NumPy traceback deep inside the tracker.
"""
from __future__ import annotations

import configparser
import contextlib
import io
import math
import re
import tokenize
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tools.io.atomic import atomic_open
from tools.io.errors import InputError, first_line

# Minimum column counts: frame, id, x, y, w, h, then conf for detections.
_MIN_COLS = {"det": 7, "gt": 6, "results": 6}
# Bounds that keep hostile numbers from turning into huge allocations or integer overflow later
# (per-frame index lists, TrackEval's per-frame arrays, int64/int32 id casts): ten million
# frames is over three days at 30 fps; ids must fit a signed 32-bit integer.
MAX_LENGTH = 10_000_000
MAX_ID = 2**31 - 1
MAX_COORD = 1e7  # pixels: box values beyond this overflow areas and IoUs (w * h) downstream


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
    text = read_text(path)
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


def read_text(path: Path) -> str:
    """A text file as UTF-8 (a BOM is dropped) with universal newlines; bytes that are not UTF-8
    are an InputError naming their line."""
    try:
        with _opening(path):
            data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = len(_NEWLINE.split(data[:exc.start]))
        raise InputError(path, f"not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded", line) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


_NEWLINE = re.compile(rb"\r\n|\r|\n")


@contextlib.contextmanager
def _opening(path: Path):
    """A missing file or a folder where a file should be, as the InputError that says so."""
    try:
        yield
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder, not a file") from None


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
    if frame > MAX_LENGTH:
        raise InputError(path, f"frame {values[0]:g} is beyond the largest sequence length this "
                               f"tool accepts ({MAX_LENGTH:,})", number)
    if not math.isfinite(values[1]) or values[1] != int(values[1]):
        raise InputError(path, f"id must be an integer, got {values[1]:g}", number)
    if abs(values[1]) > MAX_ID:
        raise InputError(path, f"id {values[1]:g} is out of range (|id| <= {MAX_ID})", number)
    box = values[2:6]
    if not all(math.isfinite(v) for v in box):
        raise InputError(path, "box has a NaN or infinite value", number)
    if max(abs(v) for v in box) > MAX_COORD:
        raise InputError(path, f"box value beyond +-{MAX_COORD:g} pixels", number)
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
    text = read_text(path)
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive camelCase
    try:
        parser.read_string(text, source=str(path))
    except configparser.MissingSectionHeaderError as exc:
        raise InputError(path, "not an ini file: no [section] header before the first key",
                         exc.lineno) from None
    except configparser.ParsingError as exc:
        line, content = exc.errors[0] if getattr(exc, "errors", None) else (None, "''")
        content = re.sub(r"\\n'$", "'", content)
        raise InputError(path, f"not an ini file: cannot parse {content}", line) from None
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        first = (exc.message.splitlines() or [type(exc).__name__])[0]
        first = re.sub(r"^While reading from .*?\[line\s*\d+\]: ", "", first)
        raise InputError(path, f"not an ini file: {first}", line) from None
    if "Sequence" not in parser:
        raise InputError(path, "missing [Sequence] section")
    sec = parser["Sequence"]
    values = {}
    for key, cast in _SEQINFO_KEYS.items():
        if key not in sec:
            raise InputError(path, f"missing key {key!r} in [Sequence]", _section_line(text, "Sequence"))
        try:
            values[key] = cast(sec[key])
        except ValueError:
            raise InputError(path, f"key {key!r} is not a {cast.__name__}: {sec[key]!r}",
                             _key_line(text, "Sequence", key)) from None
        if cast is not str and not (math.isfinite(values[key]) and values[key] > 0):
            raise InputError(path, f"key {key!r} must be a positive number, got {sec[key]!r}",
                             _key_line(text, "Sequence", key))
    if values["seqLength"] > MAX_LENGTH:
        raise InputError(path, f"seqLength {values['seqLength']:,} is beyond the largest this tool "
                               f"accepts ({MAX_LENGTH:,})", _key_line(text, "Sequence", "seqLength"))
    im_dir, im_ext = sec.get("imDir", "img1"), sec.get("imExt", ".jpg")
    # imDir and imExt become paths under the sequence folder: keep them there.
    for key, value in (("name", values["name"]), ("imDir", im_dir), ("imExt", im_ext)):
        parts = value.replace("\\", "/").split("/")
        escapes = key != "name" and (value.startswith(("/", "\\")) or ".." in parts)
        if "\0" in value or escapes or (key == "imExt" and len(parts) > 1):
            raise InputError(path, f"key {key!r} must name something inside the sequence folder, "
                                   f"got {value!r}", _key_line(text, "Sequence", key))
    return SeqInfo(values["name"], values["frameRate"], values["seqLength"], values["imWidth"],
                   values["imHeight"], im_dir, im_ext)


def _section_line(text: str, section: str) -> int | None:
    """1-based line of the `[section]` header, for errors about what the section lacks."""
    for number, raw in enumerate(text.split("\n"), start=1):
        match = configparser.ConfigParser.SECTCRE.match(raw.strip())
        if match and match.group("header") == section:
            return number
    return None


def _key_line(text: str, section: str, key: str) -> int | None:
    """1-based line where `key` is set inside `[section]`, else in [DEFAULT], which configparser
    falls back to (it keeps no line numbers itself)."""
    pattern = re.compile(rf"\s*{re.escape(key)}\s*[=:]")
    for wanted in (section, "DEFAULT"):
        inside = False
        for number, raw in enumerate(text.split("\n"), start=1):
            match = configparser.ConfigParser.SECTCRE.match(raw.strip())
            if match:
                inside = match.group("header") == wanted
            elif inside and pattern.match(raw):
                return number
    return None


def write_seqinfo(path: str | Path, info: SeqInfo) -> None:
    text = (f"[Sequence]\nname={info.name}\nimDir={info.im_dir}\nframeRate={info.frame_rate:g}\n"
            f"seqLength={info.length}\nimWidth={info.width}\nimHeight={info.height}\n"
            f"imExt={info.im_ext}\n")
    with atomic_open(path) as fh:
        fh.write(text)


# Row layouts for format_mot: printf formats of the columns they take, one line each.
RESULT_ROW = "%d,%d,%.2f,%.2f,%.2f,%.2f,1,-1,-1,-1\n"   # frame, id, box: as the original trackers print
DET_ROW = "%d,%d,%.7g,%.7g,%.7g,%.7g,%.7g,-1,-1,-1\n"   # frame, id, box, confidence (a det.txt)


def format_mot(rows: np.ndarray, row: str = RESULT_ROW, columns: list[int] | None = None) -> str:
    """MOT rows as text, one `row % values` line each. The values are the columns listed (default:
    the first ones, as many as `row` has fields)."""
    data = np.asarray(rows, dtype=np.float64)
    cols = list(columns) if columns is not None else list(range(row.count("%") - 2 * row.count("%%")))
    out = io.StringIO()
    for r in data[:, cols] if len(data) else ():
        out.write(row % tuple(r))
    return out.getvalue()


def write_mot(path: str | Path, rows: np.ndarray, row: str = RESULT_ROW, columns: list[int] | None = None) -> None:
    """format_mot's text written atomically to `path`."""
    with atomic_open(path) as fh:
        fh.write(format_mot(rows, row, columns))


def format_results(rows: np.ndarray) -> str:
    """MOTChallenge result rows (frame, id, x, y, w, h) as the original trackers print them."""
    return format_mot(rows, RESULT_ROW)


def write_results(path: str | Path, rows: np.ndarray) -> None:
    write_mot(path, rows, RESULT_ROW)


def read_npy_detections(path: str | Path) -> MotRows:
    """DeepSORT's detection file: 10 MOT columns followed by the appearance feature."""
    path = Path(path)
    try:
        with _opening(path), open(path, "rb") as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NumPy's notes on odd headers: the checks below decide
            _npy_header(path, fh)
            fh.seek(0)
            arr = np.lib.format.read_array(fh, allow_pickle=False)
    except _NPY_ERRORS as exc:
        raise InputError(path, f"not a NumPy array file: {first_line(exc)}") from None
    if arr.ndim != 2 or arr.shape[1] < 10 or not np.issubdtype(arr.dtype, np.number) \
            or np.issubdtype(arr.dtype, np.complexfloating):
        raise InputError(path, f"expected a 2-D real numeric array with at least 10 columns, got "
                               f"shape {arr.shape} dtype {arr.dtype}")
    with np.errstate(invalid="ignore"):  # a signalling NaN in the file: refused just below
        arr = arr.astype(np.float64, copy=False)
    bad = _bad_rows(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        if not np.isfinite(arr[i]).all():
            raise InputError(path, "row has a NaN or infinite value", i + 1)
        _check_row(arr[i, :7].tolist(), "det", path, i + 1)
        raise InputError(path, "row is not a valid detection", i + 1)  # _check_row always raises here
    feature = None
    if arr.shape[1] > 10:
        with np.errstate(over="ignore", invalid="ignore"):
            feature = arr[:, 10:].astype(np.float32)
        overflow = ~np.isfinite(feature).all(axis=1)
        if overflow.any():
            i = int(np.flatnonzero(overflow)[0])
            raise InputError(path, "feature value beyond the float32 range the tracker computes in", i + 1)
    return MotRows(arr[:, :10].copy(), np.arange(1, len(arr) + 1), path, feature)


# What NumPy's .npy reader raises on a damaged file: its header is parsed with ast and tokenize.
_NPY_ERRORS = (ValueError, TypeError, OSError, EOFError, SyntaxError, RecursionError,
               tokenize.TokenError, UnicodeDecodeError)


def _npy_header(path: Path, fh) -> tuple[tuple[int, ...], np.dtype]:
    """Read and check the .npy header before any data: the shape must fit in the file, so a
    forged header cannot make NumPy allocate terabytes, and object arrays are refused."""
    fmt = np.lib.format
    version = fmt.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = fmt.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _, dtype = fmt.read_array_header_2_0(fh)
    else:
        raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    if dtype.hasobject:
        raise ValueError("the array holds Python objects (pickled data), not numbers")
    if any(n < 0 for n in shape):
        raise ValueError(f"negative size in shape {shape}")
    need = math.prod(shape) * dtype.itemsize
    have = path.stat().st_size - fh.tell()
    if need > have:
        raise ValueError(f"the header promises shape {shape} ({need:,} bytes), the file holds "
                         f"{have:,} bytes after it (truncated?)")
    return shape, dtype


def _bad_rows(arr: np.ndarray) -> np.ndarray:
    """Rows _check_row would reject (plus any non-finite value), without a Python loop per row."""
    frame, ident, w, h = arr[:, 0], arr[:, 1], arr[:, 4], arr[:, 5]
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(arr).all(axis=1)
        ok &= (frame == np.floor(frame)) & (frame >= 1) & (frame <= MAX_LENGTH)
        ok &= (ident == np.floor(ident)) & (np.abs(ident) <= MAX_ID)
        ok &= (w > 0) & (h > 0) & (np.abs(arr[:, 2:6]) <= MAX_COORD).all(axis=1)
    return ~ok


def write_npy_detections(path: str | Path, rows: np.ndarray, feature: np.ndarray) -> None:
    """Write rows (N, >=10) and features (N, D) as DeepSORT's float .npy detection file."""
    rows = np.asarray(rows, dtype=np.float64)[:, :10]
    arr = np.concatenate([rows, np.asarray(feature, dtype=np.float64)], axis=1)
    with atomic_open(path, "wb") as fh:
        np.save(fh, arr.astype(np.float32), allow_pickle=False)
