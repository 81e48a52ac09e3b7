"""Configuration: defaults < --config FILE < flags, `track config show`, and redoing a run from run.json."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.cli import build_parser, main
from tools.cli.run import build_config
from tools.track.run_config import DEFAULT_MAX_DISTANCE, load_config, resolve, to_toml
from tools.io.errors import InputError
from tools.track.runner import TRACKERS, RunConfig
from tracker import DeepSortParams, DetectionFilter, SortParams


def cfg_of(argv: list[str]) -> RunConfig:
    return build_config(build_parser().parse_args(["run", "--seq", "X", *argv]))


def write(tmp_path: Path, text: str, name: str = "c.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_are_the_dataclass_defaults():
    cfg = cfg_of([])
    assert cfg == RunConfig()
    assert (cfg.sort, cfg.deepsort, cfg.filter) == (SortParams(), DeepSortParams(), DetectionFilter())
    assert cfg.appearance is None and cfg.descriptor == {}


def test_file_overrides_defaults_and_flags_override_the_file(tmp_path):
    path = write(tmp_path, 'tracker = "sort"\nappearance = "hist"\n[sort]\nmin_hits = 1\n'
                           '[deepsort]\nn_init = 5\nmax_age = 10\nnn_budget = "none"\n[filter]\nmin_confidence = 0.6\n'
                           '[descriptor]\nbins = [4, 2, 2]\n')
    cfg = cfg_of(["--config", str(path)])
    assert (cfg.tracker, cfg.appearance, cfg.sort.min_hits, cfg.deepsort.n_init) == ("sort", "hist", 1, 5)
    assert cfg.deepsort.nn_budget is None and cfg.filter.min_confidence == 0.6
    assert cfg.descriptor == {"bins": [4, 2, 2]}
    assert cfg.sort.iou_threshold == SortParams.iou_threshold  # not in the file: default
    # a flag wins even when it repeats the default value
    cfg = cfg_of(["--config", str(path), "--n-init", "3", "--tracker", "deepsort", "--appearance", "auto",
                  "--max-age", "7", "--nn-budget", "50"])
    assert (cfg.tracker, cfg.appearance, cfg.deepsort.n_init, cfg.deepsort.nn_budget) == ("deepsort", None, 3, 50)
    assert cfg.sort.max_age == cfg.deepsort.max_age == 7  # --max-age sets both trackers
    assert cfg.sort.min_hits == 1 and cfg.filter.min_confidence == 0.6  # untouched file values stay


def test_metric_brings_its_threshold_unless_one_is_set(tmp_path):
    assert cfg_of(["--metric", "euclidean"]).deepsort.max_distance == DEFAULT_MAX_DISTANCE["euclidean"]
    path = write(tmp_path, '[deepsort]\nmetric = "euclidean"\nmax_distance = 3\n')
    cfg = cfg_of(["--config", str(path)])
    assert cfg.deepsort.max_distance == 3.0 and isinstance(cfg.deepsort.max_distance, float)
    assert cfg_of(["--config", str(path), "--max-distance", "0.5"]).deepsort.max_distance == 0.5


_floats = st.floats(0, 1, allow_nan=False, allow_subnormal=False)
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=60, deadline=None)
@given(tracker=st.sampled_from(TRACKERS),
       appearance=st.one_of(st.none(), st.sampled_from(["none", "hist", "fmvae:a b/c.pt"]), _text),
       sort=st.builds(SortParams, st.integers(0, 10 ** 6), st.integers(0, 50), _floats),
       deep=st.builds(DeepSortParams, st.floats(0, 1e6, allow_nan=False), st.sampled_from(["cosine", "euclidean"]),
                      st.one_of(st.none(), st.integers(1, 10 ** 6)), _floats, st.integers(0, 1000),
                      st.integers(1, 100), st.floats(1e-6, 1e6)),
       filt=st.builds(DetectionFilter, st.floats(-1e3, 1e3), st.floats(0, 1e4), _floats),
       options=st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
                               st.one_of(st.integers(-10 ** 9, 10 ** 9), st.booleans(), _text,
                                         st.lists(st.integers(1, 256), max_size=4)), max_size=3))
def test_toml_written_by_config_show_reads_back_to_the_same_config(tracker, appearance, sort, deep, filt, options):
    if appearance == "auto":
        appearance = None  # the file's word for "unset"
    cfg = RunConfig(tracker=tracker, appearance=appearance, sort=sort, deepsort=deep, filter=filt,
                    descriptor=options)
    assert resolve(_load_text(to_toml(cfg))) == cfg


def _load_text(text: str) -> dict:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.toml"
        path.write_text(text, encoding="utf-8")
        return load_config(path)


@pytest.mark.parametrize("text, line, fragment", [
    ('tracker = "sort"\n[sort]\nmax_age = 1.5\n', 3, "[sort] max_age: expected an integer"),
    ('[sort]\nmaxage = 1\n', 2, "unknown key [sort] maxage; known keys in [sort]: max_age"),
    ('trackr = "sort"\n', 1, "unknown key trackr"),
    ('[dsort]\nn_init = 1\n', 1, "unknown key dsort"),
    ('tracker = "sorted"\n', 1, "must be one of sort, deepsort"),
    ('[deepsort]\nmetric = "l1"\n', 2, "must be one of cosine, euclidean"),
    ('[deepsort]\n\nn_init = 0\n', 3, "[deepsort] n_init: must be at least 1"),
    ('[deepsort]\nmatching = "greedy"\n', 2, "[deepsort] matching: must be one of cascade, global"),
    ('[deepsort]\nnn_budget = 0\n', 2, "at least 1, or \"none\""),
    ('[deepsort]\nmax_distance = nan\n', 2, "finite number"),
    ('[filter]\nmin_height = true\n', 2, "expected a number, got boolean"),
    ('sort = 3\n', 1, "sort must be a table"),
    ('[sort\nmax_age = 1\n', 1, "not valid TOML"),
    ('tracker = "sort"\ntracker = "deepsort"\n', 2, "not valid TOML"),
    ('appearance = \n', 1, "not valid TOML"),
    ('[descriptor]\nbins = [1, {a = 1}]\n', 2, "[descriptor] bins: expected a string, number"),
    ('"a\\nb" = 1\n', None, 'unknown key "a\\nb"'),  # shown escaped: the error stays one line
])
def test_bad_config_names_file_and_line(tmp_path, text, line, fragment):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_config(path)
    assert info.value.path == str(path) and info.value.line == line
    assert fragment in info.value.message


def test_bad_config_on_the_command_line_is_one_line_and_exit_2(tmp_path, capsys):
    path = write(tmp_path, '[sort]\nmin_hits = "3"\n')
    assert main(["config", "show", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"track: error: {path}:2: [sort] min_hits: expected an integer, got string \"3\""
    for argv, fragment in ([["--config", str(tmp_path / "nope.toml")], "config file not found"],
                           [["--config", str(tmp_path)], "is a folder"],
                           [["--n-init", "0"], "--n-init: must be at least 1"]):
        assert main(["config", "show", *argv]) == 2
        assert fragment in capsys.readouterr().err
    (tmp_path / "bin.toml").write_bytes(b'tracker = "sort"\n\xff\xfe\n')
    assert main(["config", "show", "--config", str(tmp_path / "bin.toml")]) == 2
    assert "bin.toml:2: not UTF-8" in capsys.readouterr().err


def test_config_show_prints_what_run_would_use(tmp_path, capsys):
    path = write(tmp_path, '[deepsort]\nn_init = 4\n[descriptor]\nbins = [2, 2, 2]\n')
    flags = ["--config", str(path), "--min-hits", "5", "--metric", "euclidean"]
    assert main(["config", "show", *flags]) == 0
    shown = write(tmp_path, capsys.readouterr().out, "shown.toml")
    assert resolve(load_config(shown)) == cfg_of(flags)
    cfg = cfg_of(flags)
    assert (cfg.deepsort.n_init, cfg.sort.min_hits, cfg.deepsort.max_distance) == (4, 5, 1.0)


def test_descriptor_options_reach_the_descriptor_and_bad_ones_fail(tmp_path, capsys):
    from appearance.descriptors.registry import create

    assert create("hist", {"bins": [4, 2, 2]}).dim == 2 * 4 * 2 * 2
    with pytest.raises(InputError, match="takes no option colour"):
        create("hist", {"colour": 1})
    with pytest.raises(InputError, match="bins must be three integers"):
        create("hist", {"bins": [4, 2]})
    from tests.conftest import write_sequence

    root = tmp_path / "data"
    write_sequence(root / "train", "A-01")
    path = write(tmp_path, 'appearance = "hist"\n[descriptor]\ncolour = 1\n')
    assert main(["run", "--seq", "A-01", "--data-root", str(root), "--config", str(path), "--quiet",
                 "--results-root", str(tmp_path / "r"), "--no-eval"]) == 2
    assert "takes no option colour (its options: bins)" in capsys.readouterr().err


def test_stored_run_json_redoes_the_run_exactly(tmp_path):
    from tools.data.synth import SynthConfig, make_sequence

    root = tmp_path / "data" / "train"
    make_sequence(root, "SYN-01", SynthConfig(width=320, height=180, frames=40, people=5, seed=4))
    res = tmp_path / "results"
    path = write(tmp_path, 'appearance = "hist"\n[deepsort]\nn_init = 2\nmax_age = 8\nnn_budget = "none"\n'
                           'max_distance = 0.3\n[filter]\nmin_confidence = 0.5\n[descriptor]\nbins = [6, 3, 3]\n')
    base = ["run", "--seq", "SYN-01", "--data-root", str(tmp_path / "data"), "--results-root", str(res),
            "--quiet", "--no-eval"]
    assert main(base + ["--config", str(path), "--max-iou-distance", "0.6", "--experiment", "first"]) == 0
    first = json.loads((res / "first" / "run.json").read_text())
    assert first["config"]["deepsort"]["max_iou_distance"] == 0.6 and first["config"]["descriptor"] == {"bins": [6, 3, 3]}
    assert main(base + ["--config", str(res / "first" / "run.json"), "--experiment", "again"]) == 0
    again = json.loads((res / "again" / "run.json").read_text())
    assert again["config"] == first["config"]
    result = (res / "first" / "data" / "SYN-01.txt").read_bytes()
    assert result and (res / "again" / "data" / "SYN-01.txt").read_bytes() == result
    # the stored settings mattered: the defaults give other tracks
    assert main(base + ["--appearance", "hist", "--experiment", "defaults"]) == 0
    assert (res / "defaults" / "data" / "SYN-01.txt").read_bytes() != result


def test_every_parameter_has_a_file_key():
    """A field added to a parameter dataclass is settable from a file without touching the loader."""
    text = to_toml(RunConfig())
    for section, cls in (("sort", SortParams), ("deepsort", DeepSortParams), ("filter", DetectionFilter)):
        block = text.split(f"[{section}]\n", 1)[1].split("\n\n", 1)[0]
        assert [line.split(" = ")[0] for line in block.splitlines()] == [f.name for f in dataclasses.fields(cls)]


@pytest.mark.parametrize("flags, message", [
    ({"tracker": "bytetrack", "track_thresh": 0.95}, "no box can start a track"),
])
def test_values_that_together_track_nothing_are_refused(flags, message):
    with pytest.raises(InputError, match=message):
        resolve(None, flags)


def test_bytetrack_thresholds_in_a_file_are_checked(tmp_path):
    for text, message in (("[bytetrack]\nnew_track_thresh = -3\n", "new_track_thresh"),
                          ("[bytetrack]\nlow_thresh = 0.7\n", "below the track threshold")):
        path = tmp_path / "c.toml"
        path.write_text(text)
        with pytest.raises(InputError, match=message):
            resolve(load_config(path), {})


def test_ema_alpha_flag_sets_every_tracker_and_none_restores_the_deepsort_gallery(tmp_path):
    cfg = cfg_of(["--ema-alpha", "0.8"])
    assert cfg.deepsort.ema_alpha == cfg.bytetrack.ema_alpha == cfg.ocsort.ema_alpha == 0.8
    path = write(tmp_path, "[deepsort]\nema_alpha = 0.9\n")
    cfg = cfg_of(["--config", str(path), "--ema-alpha", "none"])
    assert cfg.deepsort.ema_alpha is None                         # the reference gallery
    assert cfg.bytetrack.ema_alpha == RunConfig().bytetrack.ema_alpha  # "none" is not a ByteTrack alpha
    assert resolve(load_config(write(tmp_path, to_toml(cfg), "back.toml"))) == cfg
    with pytest.raises(InputError, match="--ema-alpha"):
        cfg_of(["--ema-alpha", "1.5"])


def test_motion_fallback_switch_is_off_unless_given_and_round_trips_through_config_argv(tmp_path):
    from tools.track.run_config import config_argv

    assert cfg_of([]).deepsort.motion_fallback is False
    assert cfg_of(["--motion-fallback"]).deepsort.motion_fallback is True
    path = write(tmp_path, "[deepsort]\nmotion_fallback = true\n")
    assert cfg_of(["--config", str(path)]).deepsort.motion_fallback is True
    assert config_argv({"motion_fallback": True, "n_init": 5}) == ["--motion-fallback", "--n-init", "5"]
    assert config_argv({"motion_fallback": False}) == ["--no-motion-fallback"]
    assert cfg_of(["--config", str(path), "--no-motion-fallback"]).deepsort.motion_fallback is False
    assert cfg_of(config_argv({"motion_fallback": True})).deepsort.motion_fallback is True


def test_matching_flag_reaches_deepsort_and_round_trips_through_a_config_file(tmp_path):
    assert cfg_of([]).deepsort.matching == "cascade"           # the reference
    cfg = cfg_of(["--matching", "global"])
    assert cfg.deepsort.matching == "global"
    assert resolve(load_config(write(tmp_path, to_toml(cfg)))) == cfg
