"""Definitions that several paths share: crop normalisation, checkpoint -> network, model kinds and
feature distances. Each path must give exactly what the shared definition gives."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from appearance.model.kinds import CLASSIFIER_KINDS, KINDS, VAE_KINDS
from appearance.model.network import build_network, network_from_checkpoint
from appearance.model.normalise import crops_to_tensor, norm_tensors, standardise
from tracker.nn_matching import METRICS, Gallery, check_metric, paired_distance, pairwise_distance

NORM = {"mean": [0.5, 0.45, 0.4], "std": [0.25, 0.2, 0.3]}


def tiny_payload(kind: str = "fmvae") -> dict:
    from appearance.model.vae import VAEConfig
    from appearance.training.initialisation import initialise_weights

    torch.manual_seed(0)
    cfg = VAEConfig(latent_dim=4, width=0.0625, image_size=32, decoder_channels=(8, 8, 4, 4, 4),
                    prior_hidden=(16,))
    model = initialise_weights(build_network(kind, cfg, 3))
    payload = {"kind": kind, "model_config": cfg.to_dict(), "model": model.state_dict(), "norm": NORM, "step": 0}
    if kind in CLASSIFIER_KINDS:
        payload["n_classes"] = 3
    return payload


def crops(n: int = 12, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_kinds_are_declared_once():
    from appearance.model import checkpoint

    assert KINDS == ("fmvae", "vhp-vae", "supervised", "tracklet") and VAE_KINDS == KINDS[:2]
    assert CLASSIFIER_KINDS == KINDS[2:]
    assert checkpoint.KINDS is KINDS


@pytest.mark.parametrize("kind", KINDS)
def test_network_from_checkpoint_rebuilds_the_weights(kind):
    payload = tiny_payload(kind)
    net = network_from_checkpoint(payload)
    assert not net.training
    assert net.state_dict().keys() == payload["model"].keys()
    assert all(torch.equal(v, payload["model"][k]) for k, v in net.state_dict().items())


@pytest.mark.parametrize("kind", CLASSIFIER_KINDS)
def test_network_from_checkpoint_needs_the_class_count_of_a_classifier(kind):
    payload = tiny_payload(kind)
    del payload["n_classes"]
    with pytest.raises(KeyError):
        network_from_checkpoint(payload)


def test_crop_normalisation_is_one_definition_everywhere(tmp_path: Path):
    from appearance.descriptors.learned import LearnedDescriptor
    from appearance.geometry.report import encode
    from appearance.model.checkpoint import save_checkpoint

    c = crops()
    mean, std = norm_tensors(NORM)
    x = crops_to_tensor(c, mean, std)
    assert x.dtype == torch.float32 and x.shape == (12, 3, 32, 32)
    assert torch.equal(x, standardise(torch.from_numpy(c).permute(0, 3, 1, 2), mean, std))
    assert torch.allclose(x[:, 1].double(), (torch.from_numpy(c[..., 1]).double() / 255 - 0.45) / 0.2, atol=1e-5)

    save_checkpoint(tmp_path / "m.pt", tiny_payload())
    desc = LearnedDescriptor(tmp_path / "m.pt")
    assert torch.equal(desc.to_tensor(c), x)
    with torch.no_grad():
        z = desc.model.embed(x).numpy()
        assert np.array_equal(desc.embed_crops(c), z)
        assert np.array_equal(encode(desc.model, {"norm": NORM}, c, batch=5), z.astype(np.float64))
    try:
        from appearance.descriptors.onnx_export import CropEncoder
    except ImportError:  # pragma: no cover - onnx extras absent
        return
    with torch.no_grad():
        assert torch.equal(CropEncoder(desc).eval()(torch.from_numpy(c)), torch.from_numpy(z))


def test_batch_sampler_normalises_like_the_descriptor():
    from appearance.training.data import BatchSampler, TrainingData

    c = crops(20)
    images = torch.from_numpy(c).permute(0, 3, 1, 2).contiguous()
    data = TrainingData(images, None, [], ["toy"], [20])
    for flip in (False, True):
        gen = torch.Generator().manual_seed(3)
        x, _ = BatchSampler(data, NORM, 8, flip, gen, torch.device("cpu")).next()
        gen = torch.Generator().manual_seed(3)
        idx = torch.randint(20, (8,), generator=gen)
        expected = crops_to_tensor(c[idx.numpy()], *norm_tensors(NORM))
        if flip:
            mirror = torch.rand(8, generator=gen) < 0.5
            expected = torch.where(mirror.view(-1, 1, 1, 1), expected.flip(3), expected)
        assert torch.equal(x, expected)


def test_channel_stats_agree_between_crop_sets_and_training_data():
    from appearance.crops.cache import stats_from_sums
    from appearance.training.data import channel_stats

    c = crops(30, 8).astype(np.int64)
    mean, std = stats_from_sums(c.sum(axis=(0, 1, 2)), (c * c).sum(axis=(0, 1, 2)), 30 * 8 * 8)
    np.testing.assert_allclose(mean, c.mean(axis=(0, 1, 2)) / 255.0, rtol=1e-12)
    np.testing.assert_allclose(std, c.std(axis=(0, 1, 2)) / 255.0, rtol=1e-12)
    tm, ts = channel_stats(torch.from_numpy(c.astype(np.uint8)).permute(0, 3, 1, 2), chunk=7)
    assert (tm, ts) == (mean, [max(s, 1e-3) for s in std])


def test_metric_names_are_the_trackers():
    from appearance.descriptors import onnx_runtime

    assert onnx_runtime.METRICS is METRICS
    for metric in METRICS:
        check_metric(metric)
    with pytest.raises(ValueError, match="metric must be one of"):
        check_metric("manhattan")
    with pytest.raises(ValueError):
        pairwise_distance(np.ones((1, 2)), np.ones((1, 2)), "manhattan")
    with pytest.raises(ValueError):
        paired_distance(np.ones((1, 2)), np.ones((1, 2)), "manhattan")


@pytest.mark.parametrize("metric", METRICS)
def test_offline_distances_are_the_gallerys(metric):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(9, 6)).astype(np.float32)
    b = rng.normal(size=(7, 6)).astype(np.float32)
    full = pairwise_distance(a, b, metric)
    assert full.dtype == np.float64 and full.shape == (9, 7)
    gallery = Gallery(metric, budget=None)
    for i, row in enumerate(a):
        gallery.add(i, row[None])
    np.testing.assert_allclose(gallery.distance(b, range(9)), full, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(paired_distance(a[:7], b, metric), np.diag(full[:7]), rtol=1e-12, atol=1e-12)


def test_zero_features_are_orthogonal_offline():
    z = np.zeros((1, 3))
    x = np.array([[1.0, 2.0, 2.0]])
    assert pairwise_distance(z, x, "cosine")[0, 0] == 1.0
    assert paired_distance(z, x, "cosine")[0] == 1.0
    assert pairwise_distance(z, x, "euclidean")[0, 0] == paired_distance(z, x, "euclidean")[0] == 9.0


def test_track_train_offers_exactly_the_trainers_choices():
    import argparse

    from appearance.model.vae import ARCHITECTURES
    from appearance.training.config import FLATNESS_KINDS, LOSS_SCALES, PRESETS
    from tools.cli import train as train_cli

    parser = argparse.ArgumentParser()
    train_cli.register(parser.add_subparsers())
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    choices = {a.dest: tuple(a.choices) for a in sub._actions if a.choices}
    assert choices["model"] == KINDS
    assert set(choices["preset"]) == set(PRESETS)
    assert set(choices["loss_scale"]) == set(LOSS_SCALES)
    assert set(choices["flatness"]) == set(FLATNESS_KINDS)
    assert set(choices["arch"]) == set(ARCHITECTURES)
