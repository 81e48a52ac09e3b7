"""Run configuration from a TOML file and flags: defaults < file < flags, one RunConfig out.

The defaults live in one place, the tracker's parameter dataclasses (SortParams, DeepSortParams,
DetectionFilter) and RunConfig; this module only knows how their fields are named in a file and
on the command line. A file mirrors RunConfig:

    tracker = "deepsort"
    appearance = "fmvae:ckpt.pt"     # "auto": the detection file's features, else motion only
    [sort]        ...SortParams fields
    [deepsort]    ...DeepSortParams fields (nn_budget = "none": unlimited gallery)
    [bytetrack]   ...ByteTrackParams fields
    [ocsort]      ...OcSortParams fields
    [filter]      ...DetectionFilter fields
    [descriptor]  keyword options of the descriptor (e.g. bins = [8, 4, 4] for hist)

A results folder's run.json (JSON, {"command": ..., "config": {...}}) is accepted as well, so a run
is redone with `track run --config results/EXP/run.json ...`. TOML has no null: optional values
are written "none", and an unset appearance "auto".
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any, Union

from tools.io.errors import InputError
from tools.io.motformat import read_text
from tools.track.runner import CAMERA_MOTIONS, TRACKERS, RunConfig
from tracker import DeepSortParams
from tracker.deep_sort import MATCHINGS
from tracker.nn_matching import METRICS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# Squared Euclidean distance on unit-free latents has no universal scale (calibrate it per
# descriptor); cosine takes DeepSortParams' own default. Used when the metric is set but the
# threshold is not.
DEFAULT_MAX_DISTANCE = {"cosine": DeepSortParams.max_distance, "euclidean": 1.0}
AUTO = "auto"   # the file's word for appearance None
NONE = "none"   # the file's word for any other optional value left unset

# Value checks beyond the type, by (section, key): (test, what the value must be).
_CHECKS: dict[tuple[str, str], tuple[typing.Callable[[Any], bool], str]] = {
    ("", "tracker"): (lambda v: v in TRACKERS, f"one of {', '.join(TRACKERS)}"),
    ("", "interpolate"): (lambda v: v >= 0, "at least 0"),
    ("", "camera_motion"): (lambda v: v in CAMERA_MOTIONS, f"one of {', '.join(CAMERA_MOTIONS)}"),
    ("deepsort", "metric"): (lambda v: v in METRICS, f"one of {', '.join(METRICS)}"),
    ("deepsort", "nn_budget"): (lambda v: v is None or v >= 1, "at least 1, or \"none\" (unlimited)"),
    ("deepsort", "max_age"): (lambda v: v >= 0, "at least 0"),
    ("deepsort", "n_init"): (lambda v: v >= 1, "at least 1"),
    ("deepsort", "max_distance"): (lambda v: v >= 0, "at least 0"),
    ("deepsort", "max_iou_distance"): (lambda v: 0 <= v <= 1, "between 0 and 1"),
    ("deepsort", "gating_threshold"): (lambda v: v > 0, "positive"),
    ("deepsort", "motion_weight"): (lambda v: 0 <= v <= 1, "between 0 and 1"),
    ("deepsort", "matching"): (lambda v: v in MATCHINGS, f"one of {', '.join(MATCHINGS)}"),
    ("deepsort", "ema_alpha"): (lambda v: v is None or 0 <= v <= 1, "between 0 and 1, or \"none\" (the gallery)"),
    ("sort", "max_age"): (lambda v: v >= 0, "at least 0"),
    ("sort", "min_hits"): (lambda v: v >= 0, "at least 0"),
    ("sort", "iou_threshold"): (lambda v: 0 <= v <= 1, "between 0 and 1"),
    ("ocsort", "max_age"): (lambda v: v >= 0, "at least 0"),
    ("ocsort", "min_hits"): (lambda v: v >= 0, "at least 0"),
    ("ocsort", "iou_threshold"): (lambda v: 0 <= v <= 1, "between 0 and 1"),
    ("ocsort", "delta_t"): (lambda v: v >= 1, "at least 1"),
    ("ocsort", "inertia"): (lambda v: v >= 0, "at least 0"),
    ("ocsort", "appearance_weight"): (lambda v: 0 <= v <= 1, "between 0 and 1"),
    ("ocsort", "det_thresh"): (lambda v: 0 <= v <= 1, "between 0 and 1"),
    ("ocsort", "min_conf"): (lambda v: 0 <= v <= 1, "between 0 and 1"),
    ("ocsort", "ema_alpha"): (lambda v: 0 <= v <= 1, "between 0 and 1"),
    ("bytetrack", "track_buffer"): (lambda v: v >= 0, "at least 0"),
    ("bytetrack", "frame_rate"): (lambda v: v is None or v > 0, "positive, or \"none\" (the sequence's)"),
    ("bytetrack", "track_thresh"): (lambda v: 0 <= v <= 1, "between 0 and 1"),
    ("bytetrack", "low_thresh"): (lambda v: 0 <= v <= 1, "between 0 and 1"),
    ("bytetrack", "new_track_thresh"): (lambda v: v is None or 0 <= v <= 1, "between 0 and 1, or \"none\""),
    ("bytetrack", "match_thresh"): (lambda v: 0 <= v <= 1, "between 0 and 1"),
    ("bytetrack", "second_match_thresh"): (lambda v: 0 <= v <= 1, "between 0 and 1"),
    ("bytetrack", "unconfirmed_match_thresh"): (lambda v: 0 <= v <= 1, "between 0 and 1"),
    ("bytetrack", "appearance_weight"): (lambda v: 0 <= v <= 1, "between 0 and 1"),
    ("bytetrack", "appearance_thresh"): (lambda v: 0 <= v <= 2, "between 0 and 2"),
    ("bytetrack", "ema_alpha"): (lambda v: 0 <= v <= 1, "between 0 and 1"),
    ("filter", "min_height"): (lambda v: v >= 0, "at least 0"),
    ("filter", "nms_max_overlap"): (lambda v: 0 <= v <= 1, "between 0 and 1"),
}

# Command-line flags: argparse dest -> the config keys it sets ("" is the top level).
FLAGS: dict[str, tuple[tuple[str, str], ...]] = {
    "tracker": (("", "tracker"),),
    "appearance": (("", "appearance"),),
    "metric": (("deepsort", "metric"),),
    "max_distance": (("deepsort", "max_distance"),),
    "nn_budget": (("deepsort", "nn_budget"),),
    "interpolate": (("", "interpolate"),),
    "camera_motion": (("", "camera_motion"),),
    "max_age": (("sort", "max_age"), ("deepsort", "max_age"), ("ocsort", "max_age")),
    "min_hits": (("sort", "min_hits"), ("ocsort", "min_hits")),
    "iou_threshold": (("sort", "iou_threshold"), ("ocsort", "iou_threshold")),
    "track_buffer": (("bytetrack", "track_buffer"),),
    "track_thresh": (("bytetrack", "track_thresh"),),
    "match_thresh": (("bytetrack", "match_thresh"),),
    "delta_t": (("ocsort", "delta_t"),),
    "inertia": (("ocsort", "inertia"),),
    "appearance_weight": (("bytetrack", "appearance_weight"), ("ocsort", "appearance_weight")),
    "appearance_thresh": (("bytetrack", "appearance_thresh"),),
    "det_thresh": (("ocsort", "det_thresh"),),
    "n_init": (("deepsort", "n_init"),),
    "max_iou_distance": (("deepsort", "max_iou_distance"),),
    "gating_threshold": (("deepsort", "gating_threshold"),),
    "motion_weight": (("deepsort", "motion_weight"),),
    "motion_fallback": (("deepsort", "motion_fallback"),),
    "matching": (("deepsort", "matching"),),
    "ema_alpha": (("deepsort", "ema_alpha"), ("bytetrack", "ema_alpha"), ("ocsort", "ema_alpha")),
    "min_confidence": (("filter", "min_confidence"),),
    "min_height": (("filter", "min_height"),),
    "nms_max_overlap": (("filter", "nms_max_overlap"),),
}


# ----------------------------------------------------------------------------- schema


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _sections() -> dict[str, type]:
    """RunConfig fields that are parameter dataclasses: the file's [tables]."""
    hints = _hints(RunConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(RunConfig) if dataclasses.is_dataclass(hints[f.name])}


def _options_fields() -> list[str]:
    """RunConfig fields that are free-form option tables (the descriptor's keyword options)."""
    hints = _hints(RunConfig)
    return [f.name for f in dataclasses.fields(RunConfig) if typing.get_origin(hints[f.name]) is dict
            or hints[f.name] is dict]


def _scalars() -> dict[str, Any]:
    """RunConfig's own plain fields (tracker, appearance, ...): the file's top-level keys."""
    hints = _hints(RunConfig)
    skip = set(_sections()) | set(_options_fields())
    return {f.name: hints[f.name] for f in dataclasses.fields(RunConfig) if f.name not in skip}


def _schema() -> dict[str, dict[str, Any]]:
    """section ("" = top level) -> key -> type hint."""
    schema: dict[str, dict[str, Any]] = {"": _scalars()}
    for name, cls in _sections().items():
        schema[name] = _hints(cls)
    return schema


def _optional(hint: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed)."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return (args[0] if len(args) == 1 else Union[tuple(args)]), len(args) < len(typing.get_args(hint))
    return hint, False


def _type_word(hint: Any) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(hint, str(hint))


def _coerce(value: Any, hint: Any, key: tuple[str, str]) -> Any:
    """The value as the field's type; raises ValueError with what was wrong."""
    base, optional = _optional(hint)
    if key == ("", "appearance") and value == AUTO:
        return None
    if value is None or (optional and base is not str and value == NONE):
        if optional:
            return None
        raise ValueError(f"expected {_type_word(base)}, got nothing")
    if base is bool:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {_show(value)}")
        return value
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            alternative = f' or "{NONE}"' if optional else ""
            raise ValueError(f"expected an integer{alternative}, got {_show(value)}")
        return value
    if base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a number, got {_show(value)}")
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {_show(value)}")
        return float(value)
    if base is str:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {_show(value)}")
        return value
    raise ValueError(f"cannot be set from a file (type {hint})")


def _show(value: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "table"}
    return f"{kind.get(type(value), type(value).__name__)} {json.dumps(value, default=str)[:60]}"


def _check_value(section: str, key: str, value: Any) -> None:
    check = _CHECKS.get((section, key))
    if check is not None and value is not None and not check[0](value):
        raise ValueError(f"must be {check[1]}, got {json.dumps(value)}")


def _check_option(value: Any) -> bool:
    """Descriptor options: strings, numbers, booleans and arrays of them."""
    if isinstance(value, list):
        return all(_check_option(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (str, int, bool))


# ----------------------------------------------------------------------------- loading


def load_config(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a TOML config (or a results folder's run.json) into validated partial values.

    Returns section ("" = top level, "descriptor", "sort", ...) -> key -> value, holding only the
    keys the file sets. Bad syntax, unknown keys, wrong types and values out of range are an
    InputError naming the file and, where it can be found, the line.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "config file not found")
    text = read_text(path)
    if path.suffix.lower() == ".json":
        data = _parse_json(path, text)
    else:
        data = _parse_toml(path, text)
    return _validate(path, text, data)


def _parse_toml(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line = getattr(exc, "lineno", None)
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
        if m:
            line = line or int(m.group(1))
            message = f"{message[:m.start()]} (column {m.group(2)})"
        elif message.endswith("(at end of document)"):
            line = line or max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
            message = message[: -len("(at end of document)")].rstrip() + " (at the end of the file)"
        raise InputError(path, f"not valid TOML: {message}", line) from None


def _parse_json(path: Path, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
    if not isinstance(data, dict):
        raise InputError(path, "expected a JSON object (a config, or a run.json with a \"config\" member)")
    if isinstance(data.get("config"), dict):
        data = data["config"]  # a results folder's run.json: {"command": [...], "config": {...}}
    return data


def _validate(path: Path, text: str, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    schema = _schema()
    options = _options_fields()
    out: dict[str, dict[str, Any]] = {name: {} for name in [*schema, *options]}
    for key, value in data.items():
        if key in schema and key != "":
            if not isinstance(value, dict):
                raise InputError(path, f"{key} must be a table ([{key}]), got {_show(value)}", _line_of(text, "", key))
            for sub, v in value.items():
                out[key][sub] = _field(path, text, schema, key, sub, v)
        elif key in options:
            if not isinstance(value, dict):
                raise InputError(path, f"{key} must be a table ([{key}]), got {_show(value)}", _line_of(text, "", key))
            for sub, v in value.items():
                if not _check_option(v):
                    raise InputError(path, f"[{key}] {_name(sub)}: expected a string, number, boolean or an array "
                                           f"of them, got {_show(v)}", _line_of(text, key, sub))
                out[key][sub] = v
        else:
            out[""][key] = _field(path, text, schema, "", key, value)
    return out


def _field(path: Path, text: str, schema: dict, section: str, key: str, value: Any) -> Any:
    where = f"[{section}] {_name(key)}" if section else _name(key)
    known = schema[section]
    if key not in known:
        if section == "" and isinstance(value, dict):
            hint = f"; tables: {', '.join(f'[{s}]' for s in [*schema, *_options_fields()] if s)}"
        else:
            hint = f"; known keys{f' in [{section}]' if section else ''}: {', '.join(known)}"
        raise InputError(path, f"unknown key {where}{hint}", _line_of(text, section, key))
    try:
        v = _coerce(value, known[key], (section, key))
        _check_value(section, key, v)
    except ValueError as exc:
        raise InputError(path, f"{where}: {exc}", _line_of(text, section, key)) from None
    return v


def _name(key: str) -> str:
    """A key as an error message shows it: quoted when it is not a plain TOML bare key."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _line_of(text: str, section: str, key: str) -> int | None:
    """Best-effort line of `key = ...` in [section] (tomllib does not say where a value was)."""
    k = re.escape(key)
    key_re = re.compile(rf"""^\s*(?:{k}|"{k}"|'{k}')\s*=""")
    dotted = re.compile(rf"""^\s*{re.escape(section)}\s*\.\s*{k}\s*=""") if section else None
    current = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[+\s*([^\[\]]+?)\s*\]", line)
        if header:
            current = header.group(1).strip().strip("\"'")
            if section == "" and current.split(".")[0].strip().strip("\"'") == key:
                return number  # the [table] itself
            continue
        if current == section and key_re.match(line):
            return number
        if current == "" and dotted is not None and dotted.match(line):
            return number
    json_key = re.compile(rf'"{k}"\s*:')  # run.json: the first "key": of that name
    for number, line in enumerate(text.splitlines(), start=1):
        if json_key.search(line):
            return number
    return None


# ----------------------------------------------------------------------------- resolving


def resolve(file_values: dict[str, dict[str, Any]] | None = None,
            flags: dict[str, Any] | None = None) -> RunConfig:
    """The effective RunConfig: dataclass defaults, then the file's values, then the flags.

    `flags` maps argparse dests (FLAGS) to values, None meaning not given. A flag's value is
    checked like a file's; errors name the flag.
    """
    file_values = file_values or {}
    merged: dict[str, dict[str, Any]] = {k: dict(v) for k, v in file_values.items()}
    schema = _schema()
    for dest, value in (flags or {}).items():
        if value is None or dest not in FLAGS:
            continue
        targets = [(s, k) for s, k in FLAGS[dest] if k in schema.get(s, {})]
        if value == NONE and len(targets) > 1:
            # "none" sets the trackers whose field is optional (--ema-alpha none: DeepSORT's gallery)
            targets = [(s, k) for s, k in targets if _optional(schema[s][k])[1]] or targets
        for section, key in targets:
            try:
                v = _coerce(value, schema[section][key], (section, key))
                _check_value(section, key, v)
            except ValueError as exc:
                raise InputError(None, f"--{dest.replace('_', '-')}: {exc}") from None
            merged.setdefault(section, {})[key] = v
    deep = merged.setdefault("deepsort", {})
    if "max_distance" not in deep:
        deep["max_distance"] = DEFAULT_MAX_DISTANCE[deep.get("metric", DeepSortParams.metric)]
    kwargs: dict[str, Any] = dict(merged.get("", {}))
    for name, cls in _sections().items():
        kwargs[name] = cls(**merged.get(name, {}))
    for name in _options_fields():
        kwargs[name] = dict(merged.get(name, {}))
    cfg = RunConfig(**kwargs)
    _check_together(cfg)
    return cfg


def _check_together(cfg: RunConfig) -> None:
    """Values fine one by one that together leave a tracker unable to track anything."""
    b = cfg.bytetrack
    birth = b.track_thresh + 0.1 if b.new_track_thresh is None else b.new_track_thresh
    if birth > 1:
        raise InputError(None, f"bytetrack: no box can start a track (a new track needs a score of {birth:g}, "
                               "the track threshold + 0.1); lower --track-thresh or set new_track_thresh")
    if b.low_thresh >= b.track_thresh:
        raise InputError(None, f"bytetrack: low_thresh ({b.low_thresh:g}) must lie below the track threshold "
                               f"({b.track_thresh:g})")


def config_argv(values: dict[str, Any]) -> list[str]:
    """The command-line flags that set `values` (argparse dests of FLAGS, as resolve takes them):
    `track run` with these flags uses the RunConfig that resolve(None, values) gives."""
    out: list[str] = []
    for dest, value in values.items():
        if dest not in FLAGS:
            raise KeyError(f"no flag sets {dest!r}; known: {', '.join(FLAGS)}")
        flag = f"--{dest.replace('_', '-')}"
        if isinstance(value, bool):  # a switch: --name on, --no-name off
            out += [flag if value else f"--no-{flag[2:]}"]
        else:
            out += [flag, repr(value) if isinstance(value, float) else str(value)]
    return out


# ----------------------------------------------------------------------------- writing


def to_toml(cfg: RunConfig) -> str:
    """The config as TOML that load_config reads back to the same RunConfig."""
    d = cfg.to_dict()
    sections = _sections()
    options = _options_fields()
    lines = []
    for key, value in d.items():
        if key in sections or key in options:
            continue
        if key == "appearance" and value is None:
            lines.append(f'{key} = "{AUTO}"  # the detection file\'s features, else motion only')
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for name in [*sections, *options]:
        lines.append("")
        lines.append(f"[{name}]")
        for key, value in d[name].items():
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_string(key)


def _toml_string(text: str) -> str:
    """A TOML basic string: quote, backslash and control characters escaped, the rest as is."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if value is None:
        return f'"{NONE}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest text that parses back to the same float
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
