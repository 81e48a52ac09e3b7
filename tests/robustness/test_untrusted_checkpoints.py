"""Checkpoints are data, never code: a file carrying a pickled object that would run code on load is
refused (and the code does not run); a truncated or corrupt checkpoint is a one-line error naming
the file with exit status 2, whichever command reads it."""
from __future__ import annotations

import builtins
import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appearance.model.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from appearance.descriptors.learned import LearnedDescriptor
from appearance.model.vae import VAE, VAEConfig
from tests.conftest import write_sequence
from tests.robustness.fuzzing import TALLY, write_report
from tools.cli import main
from tools.io.errors import InputError

TINY = dict(latent_dim=4, width=0.0625, image_size=32, decoder_channels=(8, 8, 8, 8, 8), prior_hidden=(16,))
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))


class RunsCode:
    """Unpickling this runs code that writes `marker`: what a hostile checkpoint would do. Two ways:
    exec() of Python source, or os.system() of a shell command."""

    def __init__(self, marker: Path, how: str):
        self.marker, self.how = marker, how

    def __reduce__(self):
        if self.how == "exec":
            return builtins.exec, (f"open({str(self.marker)!r}, 'w').write('the code ran')",)
        return os.system, (f"printf 'the code ran' > '{self.marker}'",)


def tiny_payload() -> dict:
    cfg = VAEConfig.cpu(**TINY)
    torch.manual_seed(0)
    model = VAE(cfg)
    cfg_dict = {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.to_dict().items()}
    return {"kind": "fmvae", "model_config": cfg_dict, "model": model.state_dict(),
            "norm": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}, "step": 0}


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "good.pt"
    save_checkpoint(path, tiny_payload())
    return path


@pytest.fixture(params=["exec", "os.system"])
def hostile(tmp_path, request) -> tuple[Path, Path]:
    """A checkpoint in the project's format with one extra entry that runs code when unpickled."""
    marker = tmp_path / "marker.txt"
    path = tmp_path / "hostile.pt"
    payload = {"format": FORMAT, **tiny_payload(), "extra": RunsCode(marker, request.param)}
    torch.save(payload, path)
    return path, marker


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_hostile_checkpoint_is_refused_and_its_code_does_not_run(hostile):
    path, marker = hostile
    with pytest.raises(InputError) as err:
        load_checkpoint(path)
    assert err.value.path == str(path)
    assert "refused" in err.value.message and "could run code" in err.value.message
    assert not marker.exists()
    # the file really is hostile: a plain pickle load (what weights_only=True prevents) runs it
    torch.load(path, weights_only=False)
    assert marker.read_text() == "the code ran"


def test_hostile_checkpoint_through_the_cli_is_one_line_exit_2(hostile, tmp_path, capsys):
    path, marker = hostile
    write_sequence(tmp_path / "data")
    code, out, err = run_cli(["run", "--seq", "TINY-01", "--data-root", tmp_path / "data", "--quiet",
                              "--appearance", f"fmvae:{path}", "--results-root", tmp_path / "res",
                              "--no-eval"], capsys)
    assert code == 2 and err.count("\n") == 1 and str(path) in err and "refused" in err
    assert "Traceback" not in err and not marker.exists()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    os.replace(path, run_dir / "checkpoint.pt")
    code, out, err = run_cli(["train", "--resume", "--out", run_dir, "--quiet"], capsys)
    assert code == 2 and err.count("\n") == 1 and str(run_dir / "checkpoint.pt") in err
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["half", "one-byte", "empty", "garbage", "zip-of-nothing"])
def test_truncated_or_corrupt_checkpoint_names_the_file_and_exits_2(good_checkpoint, tmp_path, capsys, damage):
    data = good_checkpoint.read_bytes()
    bad = {"half": data[: len(data) // 2], "one-byte": data[:1], "empty": b"",
           "garbage": os.urandom(4096), "zip-of-nothing": b"PK\x05\x06" + b"\x00" * 18}[damage]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "checkpoint.pt").write_bytes(bad)
    with pytest.raises(InputError) as err:
        load_checkpoint(run_dir / "checkpoint.pt")
    assert err.value.path == str(run_dir / "checkpoint.pt") and "\n" not in str(err.value)
    code, out, err = run_cli(["train", "--resume", "--out", run_dir, "--quiet"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"track: error: {run_dir / 'checkpoint.pt'}: ")
    write_sequence(tmp_path / "data")
    code, out, err = run_cli(["run", "--seq", "TINY-01", "--data-root", tmp_path / "data", "--quiet",
                              "--appearance", f"fmvae:{run_dir / 'checkpoint.pt'}",
                              "--results-root", tmp_path / "res", "--no-eval"], capsys)
    assert code == 2 and err.count("\n") == 1 and str(run_dir / "checkpoint.pt") in err


@pytest.mark.parametrize("damage, words", [
    ("half", "(truncated): the zip archive torch.save writes ends early"),
    ("empty", "(empty file)"),
    ("garbage", "(truncated or not a torch file): its 4096 bytes do not start like the zip archive"),
    ("text", "(truncated or not a torch file)"),
    ("zip-without-torch", "(not a torch file): a zip archive without the data.pkl"),
])
def test_a_damaged_checkpoint_is_described_in_words(good_checkpoint, tmp_path, damage, words):
    """torch's own reasons are about its internals: random bytes gave a bare `: 105`."""
    import zipfile

    path = tmp_path / "x.pt"
    data = good_checkpoint.read_bytes()
    if damage == "zip-without-torch":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("notes.txt", "hello")
    else:
        path.write_bytes({"half": data[: len(data) // 2], "empty": b"", "text": b"105\n",
                          "garbage": bytes(range(256)) * 16}[damage])
    with pytest.raises(InputError) as err:
        load_checkpoint(path)
    assert err.value.message.startswith(f"not a readable checkpoint {words}")
    assert "PytorchStreamReader" not in err.value.message and "weights_only" not in err.value.message


def test_a_checkpoint_whose_weights_do_not_fit_its_model_is_an_input_error(tmp_path):
    payload = tiny_payload()
    payload["model"] = dict(payload["model"])
    first = next(iter(payload["model"]))
    payload["model"][first] = torch.zeros(3, 3)  # wrong shape
    save_checkpoint(tmp_path / "wrong.pt", payload)
    with pytest.raises(InputError, match="wrong.pt") as err:
        LearnedDescriptor(tmp_path / "wrong.pt")
    assert "\n" not in str(err.value)
    payload = tiny_payload()
    payload["model_config"] = {**payload["model_config"], "latent_dim": "many"}
    save_checkpoint(tmp_path / "badcfg.pt", payload)
    with pytest.raises(InputError, match="badcfg.pt"):
        LearnedDescriptor(tmp_path / "badcfg.pt")


def test_the_good_checkpoint_loads_and_embeds(good_checkpoint):
    """The control for the damage tests above: the undamaged file works."""
    import numpy as np

    desc = LearnedDescriptor(good_checkpoint)
    feats = desc.embed(np.zeros((64, 64, 3), np.uint8), np.array([[4.0, 4.0, 20.0, 40.0]]))
    assert feats.shape == (1, 4) and np.isfinite(feats).all()


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    write_report()


def check_damaged_checkpoint(path: Path, data: bytes) -> None:
    """A damaged checkpoint loads (bit flips in weights are undetectable) or is an InputError."""
    path.write_bytes(data)
    TALLY["checkpoint.pt"]["cases"] += 1
    try:
        LearnedDescriptor(path)
    except InputError as exc:
        TALLY["checkpoint.pt"]["refused"] += 1
        assert exc.path == str(path) and "\n" not in str(exc)
        return
    except BaseException:
        TALLY["checkpoint.pt"]["crashes"] += 1
        raise
    TALLY["checkpoint.pt"]["accepted"] += 1


@st.composite
def damaged(draw, data: bytes) -> bytes:
    how = draw(st.integers(0, 3))
    if how == 0:
        return data[: draw(st.integers(0, len(data) - 1))]
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(out) - 1))
        out[i] = draw(st.integers(0, 255)) if how == 1 else (out[i] ^ (1 << draw(st.integers(0, 7))))
    if how == 3:
        i = draw(st.integers(0, len(out)))
        out[i:i] = draw(st.binary(min_size=1, max_size=16))
    return bytes(out)


def _fuzz_checkpoint(examples: int):
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def run(good_checkpoint, tmp_path_factory, data):
        original = good_checkpoint.read_bytes()
        target = good_checkpoint.with_name("damaged.pt")
        check_damaged_checkpoint(target, data.draw(damaged(original)))

    return run


test_fuzz_damaged_checkpoints = _fuzz_checkpoint(EXAMPLES)
test_fuzz_damaged_checkpoints_slow = pytest.mark.slow(_fuzz_checkpoint(int(os.environ.get("FUZZ_EXAMPLES", "10000"))))
