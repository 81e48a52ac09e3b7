"""`track export --format onnx` and the `onnx:FILE` descriptor: same features and tracks as torch, no torch needed."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")

from appearance.descriptors.registry import create  # noqa: E402
from appearance.descriptors.learned import LearnedDescriptor  # noqa: E402
from appearance.descriptors.onnx_runtime import OnnxDescriptor  # noqa: E402
from tools.cli import main  # noqa: E402
from tools.io.errors import InputError  # noqa: E402
from tools.io.sequence import Sequence  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def tiny_checkpoint(path: Path, crop_fit: str = "stretch") -> Path:
    """A random tiny fmvae whose features differ between crops (the trainer's He init).

    PyTorch's default init makes a deep narrow ReLU net's output nearly constant: every crop
    would get the same feature, appearance costs would all tie, and float rounding would pick
    the matches, which says nothing about the two runtimes.
    """
    from appearance.model.checkpoint import save_checkpoint
    from appearance.training.initialisation import initialise_weights
    from appearance.model.vae import VAE, VAEConfig

    torch.manual_seed(0)
    cfg = VAEConfig(latent_dim=8, width=0.0625, decoder_channels=(8, 8, 4, 4, 4), prior_hidden=(16, 16),
                    crop_fit=crop_fit)
    model = VAE(cfg)
    initialise_weights(model)  # features that vary between crops, unlike PyTorch's default init
    save_checkpoint(path, {"kind": "fmvae", "model_config": cfg.to_dict(), "model": model.state_dict(),
                           "norm": {"mean": [0.5, 0.45, 0.4], "std": [0.25, 0.2, 0.3]}, "step": 0})
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("export")
    ckpt = tiny_checkpoint(d / "tiny.pt")
    assert main(["export", "--checkpoint", str(ckpt), "--format", "onnx", "--out", str(d / "enc.onnx")]) == 0
    return ckpt, d / "enc.onnx"


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory) -> Path:
    from tools.data.synth import SynthConfig, make_sequence

    root = tmp_path_factory.mktemp("synth") / "data"
    make_sequence(root / "train", "SYN-01", SynthConfig(width=320, height=180, frames=60, people=6, seed=5))
    return root


def test_onnx_embeddings_equal_torch_for_any_batch(exported):
    ckpt, path = exported
    model = onnx.load(str(path))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["kind"] == "fmvae" and meta["crop_size"] == "64" and "norm_std" in meta
    assert meta["crop_fit"] == "stretch"
    runtime, reference = OnnxDescriptor(path, batch_size=16), LearnedDescriptor(ckpt)
    inp = runtime.session.get_inputs()[0]
    assert isinstance(inp.shape[0], str) and inp.shape[1:] == [64, 64, 3]  # dynamic batch axis
    rng = np.random.default_rng(1)
    for n in (1, 5, 37):  # 37 > batch_size: several runs of one session
        crops = rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
        got, want = runtime.embed_crops(crops), reference.embed_crops(crops)
        assert got.shape == want.shape == (n, 8) and got.dtype == np.float32
        assert np.abs(got - want).max() < 1e-4
    assert want.std(axis=0).min() > 1e-3  # the features do vary between crops


def test_a_padded_crop_model_exports_its_crop_fit_and_the_runtime_cuts_that_way(tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "pad.pt", crop_fit="pad")
    assert main(["export", "--checkpoint", str(ckpt), "--format", "onnx", "--out", str(tmp_path / "pad.onnx")]) == 0
    runtime, reference = OnnxDescriptor(tmp_path / "pad.onnx"), LearnedDescriptor(ckpt)
    assert runtime.fit == reference.fit == "pad"
    frame = np.random.default_rng(2).integers(0, 256, (180, 320, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 30, 80], [100, 40, 60, 30]], np.float32)
    assert np.abs(runtime.embed(frame, boxes) - reference.embed(frame, boxes)).max() < 1e-4


def test_onnx_descriptor_tracks_like_torch_and_needs_no_torch(exported, synth_root, tmp_path):
    ckpt, path = exported
    res = tmp_path / "results"
    base = ["run", "--seq", "SYN-01", "--data-root", str(synth_root), "--results-root", str(res), "--quiet", "--no-eval"]
    assert main(base + ["--appearance", f"fmvae:{ckpt}", "--experiment", "torch"]) == 0
    assert main(base + ["--appearance", "none", "--experiment", "motion"]) == 0
    _, frame = next(Sequence.open(synth_root / "train" / "SYN-01").frames())
    boxes = np.array([[10, 20, 30, 70], [150, 40, 25, 60], [280, 100, 60, 90]], np.float64)
    # torch made unimportable, as on a machine without it
    script = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None
        import cv2, numpy as np
        from appearance.descriptors.registry import available, create
        from tools.cli import main
        assert "fmvae" not in available()  # the torch descriptors are gone, onnx is not
        feats = create("onnx:{path}").embed(cv2.imread({str(tmp_path / "f.png")!r}), np.load({str(tmp_path / "b.npy")!r}))
        np.save({str(tmp_path / "onnx_feats.npy")!r}, feats)
        rc = main({base + ["--appearance", f"onnx:{path}", "--experiment", "onnx"]!r})
        assert not any(m == "torch" or m.startswith("torch.") for m, v in sys.modules.items() if v is not None)
        sys.exit(rc)
    """)
    import cv2

    cv2.imwrite(str(tmp_path / "f.png"), frame)
    np.save(tmp_path / "b.npy", boxes)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    want = LearnedDescriptor(ckpt).embed(frame, boxes)
    assert np.abs(np.load(tmp_path / "onnx_feats.npy") - want).max() < 1e-4
    ours = (res / "onnx" / "data" / "SYN-01.txt").read_bytes()
    assert ours and ours == (res / "torch" / "data" / "SYN-01.txt").read_bytes()
    assert ours != (res / "motion" / "data" / "SYN-01.txt").read_bytes()  # appearance decided something


def _model(path: Path, elem: int, shape: list) -> Path:
    """A one-node ONNX model (Identity) with the given input type and shape."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", elem, shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT if elem == TensorProto.FLOAT else elem, shape)
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("case, fragment", [
    ("garbage", "not a loadable ONNX model"),
    ("missing", "ONNX model not found"),
    ("float-nchw", "expected one input of uint8 RGB crops"),
    ("four-channels", "expected one input of uint8 RGB crops"),
    ("fixed-batch", "fixed batch of 4"),
    ("no-path", "needs a model file"),
])
def test_bad_onnx_models_are_input_errors(case, fragment, tmp_path, tiny_root, capsys):
    from onnx import TensorProto

    path = tmp_path / "m.onnx"
    if case == "garbage":
        path.write_bytes(b"\x08\x07this is not a protobuf of a model" * 10)
    elif case == "float-nchw":
        _model(path, TensorProto.FLOAT, ["n", 3, 64, 64])
    elif case == "four-channels":
        _model(path, TensorProto.UINT8, ["n", 64, 64, 4])
    elif case == "fixed-batch":
        _model(path, TensorProto.UINT8, [4, 64, 64, 3])
    spec = "onnx" if case == "no-path" else f"onnx:{path}"
    with pytest.raises(InputError, match=fragment):
        create(spec)
    assert main(["run", "--seq", "TINY-01", "--data-root", str(tiny_root), "--appearance", spec, "--quiet",
                 "--no-eval", "--results-root", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]


def test_export_bad_checkpoint_is_exit_2(tmp_path, capsys):
    bad = tmp_path / "notes.pt"
    bad.write_text("not a checkpoint")
    assert main(["export", "--checkpoint", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"track: error: {bad}: ")
    assert main(["export", "--checkpoint", str(tmp_path / "gone.pt")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert main(["export", "--checkpoint", str(bad), "--out", str(bad)]) == 2
    assert "overwrite the checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "notes.onnx").exists()
