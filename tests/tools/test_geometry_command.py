"""2-D latents end to end: the pendulum set, the MLP architecture, `track train --latent-dim 2`,
`track geometry` (JSON and figures) and its bad-input exits."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from appearance.model.checkpoint import load_checkpoint, save_checkpoint
from appearance.crops.cache import CropSet
from appearance.geometry.pendulum import make_images, render, write_pendulum
from appearance.model.vae import VAE, VAEConfig
from tools.cli import main as cli_main

TINY_MLP = ["--arch", "mlp", "--latent-dim", "2", "--mlp-hidden", "24", "--prior-hidden", "16"]
FAST = ["--samples", "12", "--pairs", "3", "--grid", "10", "--queries", "2", "--refine-iterations", "5",
        "--max-crops", "150", "--quiet", "--threads", "1"]


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def pendulum(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pend") / "pendulum"
    assert cli_main(["pendulum", "--out", str(out), "--count", "200", "--seed", "3"]) == 0
    return out


@pytest.fixture(scope="module")
def checkpoints(pendulum, tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("runs")
    out = []
    for model, extra in (("vhp-vae", []), ("fmvae", ["--eta", "1"])):
        run = root / model
        assert cli_main(["train", "--model", model, "--crops", str(pendulum), "--out", str(run), "--steps", "6",
                         "--batch-size", "16", "--flat-batch", "8", "--threads", "1", "--quiet", *TINY_MLP,
                         *extra]) == 0
        out.append(run / "checkpoint.pt")
    return out


def test_pendulum_images_follow_the_angle(pendulum):
    cs = CropSet.load(pendulum)
    assert cs.crops.shape == (200, 16, 16, 3) and cs.source == "pendulum"
    assert np.array_equal(cs.crops[..., 0], cs.crops[..., 2])            # grey in RGB
    angles = np.load(pendulum / "meta.npz")["angle"]
    assert angles.min() >= 0 and angles.max() < 360
    clean = render(np.array([0.0, 90.0, 180.0]))
    # 0 degrees hangs down: the bottom half is brighter than the top; 180 the other way round
    assert clean[0, 8:].sum() > clean[0, :8].sum() and clean[2, :8].sum() > clean[2, 8:].sum()
    assert clean[1, :, 8:].sum() > clean[1, :, :8].sum()                 # 90: to the right
    near = np.linalg.norm(render(np.array([5.0]))[0] - clean[0])        # images move with the angle
    assert 0 < near < 0.5 * np.linalg.norm(clean[1] - clean[0])
    noisy, a = make_images(400, seed=1)
    resid = noisy[..., 0] / 255.0 - render(a)
    assert resid.std() == pytest.approx(0.05, abs=0.004)                 # the requested noise
    # a second call with the same parameters reuses the cache
    before = (pendulum / "crops.npy").stat().st_mtime_ns
    write_pendulum(pendulum, n=200, seed=3)
    assert (pendulum / "crops.npy").stat().st_mtime_ns == before


def test_mlp_architecture_and_old_configs():
    cfg = VAEConfig.cpu(latent_dim=2, image_size=16, architecture="mlp", mlp_hidden=(32, 8))
    vae = VAE(cfg)
    x = torch.randn(5, 3, 16, 16)
    mean, logvar = vae.encode(x)
    assert mean.shape == (5, 2) and vae.decode(mean).shape == (5, 3, 16, 16)
    assert VAEConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    old = VAEConfig.cpu(latent_dim=8).to_dict()
    for key in ("architecture", "mlp_hidden", "mlp_activation"):
        del old[key]
    assert VAEConfig.from_dict(old) == VAEConfig.cpu(latent_dim=8)         # written before the field
    with pytest.raises(ValueError, match="mlp"):
        VAEConfig(image_size=16)                                           # VGG needs 32 px steps
    with pytest.raises(ValueError):
        VAEConfig(architecture="transformer")


def test_train_latent_dim_2_and_geometry_report(checkpoints, pendulum, tmp_path, capsys):
    payload = load_checkpoint(checkpoints[0])
    assert payload["model_config"]["latent_dim"] == 2 and payload["model_config"]["architecture"] == "mlp"
    out = tmp_path / "geo"
    assert cli_main(["geometry", "--checkpoint", *map(str, checkpoints), "--crops", str(pendulum),
                     "--out", str(out), *FAST]) == 0
    stdout = capsys.readouterr().out
    assert "| vhp-vae | 2 |" in stdout and "| fmvae eta=1 | 2 |" in stdout
    report = json.loads((out / "geometry.json").read_text())
    assert [m["label"] for m in report["models"]] == ["vhp-vae", "fmvae eta=1"]
    for m in report["models"]:
        assert m["condition_number"]["n"] == 12 and m["condition_number"]["median"] >= 1.0
        assert m["normalised_mf"]["mean"] == pytest.approx(1.0)
        assert m["table1"]["pairs"] == 3 and m["table1"]["riemannian"]["n"] == 3
        assert m["table1"]["riemannian"]["mean"] >= 1.0 - 1e-9    # the line is one of the candidates
        assert m["graph"]["type"] == "grid" and m["graph"]["side"] == 10
        assert m["timing"]["geodesic_query_s"] > m["timing"]["euclidean_s"] > 0
    for name in ("boxes.png", "mf_contours.png", "geodesics.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 300_000


@pytest.mark.parametrize("case", ["missing", "supervised", "size", "labels", "samples", "crops", "fit"])
def test_geometry_bad_input_is_one_line_and_exit_2(case, checkpoints, pendulum, tmp_path, capsys):
    ckpt, crops, extra = str(checkpoints[0]), str(pendulum), []
    if case == "missing":
        ckpt = str(tmp_path / "nope.pt")
    elif case == "supervised":
        p = load_checkpoint(checkpoints[0])
        p["kind"] = "supervised"
        ckpt = str(tmp_path / "sup.pt")
        save_checkpoint(ckpt, {k: v for k, v in p.items() if k != "format"})
    elif case == "size":
        crops = str(tmp_path / "big")
        write_pendulum(crops, n=20, size=32)
    elif case == "labels":
        extra = ["--label", "a", "b"]
    elif case == "samples":
        extra = ["--samples", "1"]
    elif case == "crops":
        crops = str(tmp_path / "no-such-cache")
    elif case == "fit":   # a model trained on padded crops, measured on stretched ones
        p = load_checkpoint(checkpoints[0])
        p["model_config"] = {**p["model_config"], "crop_fit": "pad"}
        ckpt = str(tmp_path / "pad.pt")
        save_checkpoint(ckpt, {k: v for k, v in p.items() if k != "format"})
    code = cli_main(["geometry", "--checkpoint", ckpt, "--crops", crops, "--out", str(tmp_path / "o"),
                     *FAST, *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("track: error:"), err
    expect = {"missing": "checkpoint not found", "supervised": "no decoder", "size": "16x16",
              "labels": "--label", "samples": "--samples", "crops": "no crop cache", "fit": "--fit pad"}[case]
    assert expect in err[0]


def test_vgg_on_16px_crops_points_to_the_mlp(pendulum, tmp_path, capsys):
    code = cli_main(["train", "--model", "vhp-vae", "--crops", str(pendulum), "--out", str(tmp_path / "r"),
                     "--steps", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "architecture 'mlp'" in err


def test_the_study_is_a_library_call_that_checks_before_writing(checkpoints, pendulum, tmp_path):
    from appearance.geometry.report import GeometryOptions
    from appearance.geometry.study import study_geometry, study_table
    from tools.io.errors import InputError

    opts = GeometryOptions(samples=20, pairs=5, nodes=60, k=6, grid=12, queries=2, max_crops=150, progress=False,
                           refine=False)
    with pytest.raises(InputError, match="--label"):
        study_geometry(checkpoints, [pendulum], tmp_path / "bad", opts, labels=["only one"])
    assert not (tmp_path / "bad").exists()
    study = study_geometry(checkpoints[:1], [pendulum], tmp_path / "ok", opts, threads=1)
    assert study.written[0] == tmp_path / "ok" / "geometry.json" and all(p.is_file() for p in study.written)
    assert len(study.report["models"]) == 1 and study.report["crops_encoded"] == 150
    assert study_table(study.models).count("\n") == 2    # header, rule, one row
