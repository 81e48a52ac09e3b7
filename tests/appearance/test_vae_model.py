"""VGG16 trunk (torchvision naming, ImageNet state-dict loading) and the VAE's shapes and presets."""
import pytest
import torch

from appearance.model.vae import VAE, Decoder, Encoder, VAEConfig
from appearance.model.vgg import VGG16Trunk, load_torchvision_state_dict

# torchvision vgg16().features: the 13 convolutions, by Sequential index, as (in, out) channels.
TORCHVISION_CONVS = {0: (3, 64), 2: (64, 64), 5: (64, 128), 7: (128, 128), 10: (128, 256),
                     12: (256, 256), 14: (256, 256), 17: (256, 512), 19: (512, 512), 21: (512, 512),
                     24: (512, 512), 26: (512, 512), 28: (512, 512)}
TORCHVISION_POOLS = (4, 9, 16, 23, 30)


def expected_torchvision_features() -> dict[str, tuple[int, ...]]:
    shapes = {}
    for i, (c_in, c_out) in TORCHVISION_CONVS.items():
        shapes[f"features.{i}.weight"] = (c_out, c_in, 3, 3)
        shapes[f"features.{i}.bias"] = (c_out,)
    return shapes


def test_full_width_trunk_has_torchvision_names_shapes_and_layout():
    trunk = VGG16Trunk(width=1.0)
    got = {k: tuple(v.shape) for k, v in trunk.state_dict().items()}
    assert got == expected_torchvision_features()
    assert list(got) == list(expected_torchvision_features())     # same order as torchvision
    assert len(trunk.features) == 31
    assert all(isinstance(trunk.features[i], torch.nn.MaxPool2d) for i in TORCHVISION_POOLS)
    assert sum(p.numel() for p in trunk.parameters()) == 14_714_688   # vgg16 features, known count


def test_trunk_output_shape_for_64px_input():
    for width, channels in ((1.0, 512), (0.25, 128)):
        trunk = VGG16Trunk(width=width)
        with torch.no_grad():
            assert trunk(torch.zeros(1, 3, 64, 64)).shape == (1, channels, 2, 2)


def test_torchvision_state_dict_round_trip(tmp_path):
    torch.manual_seed(0)
    source = VGG16Trunk(width=1.0)
    state = dict(source.state_dict())
    state["classifier.0.weight"] = torch.zeros(4, 4)   # a full vgg16 file also has a classifier
    path = tmp_path / "vgg16-imagenet.pth"
    torch.save(state, path)
    target = VGG16Trunk(width=1.0)
    load_torchvision_state_dict(target, path)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_narrow_trunk_refuses_imagenet_weights_with_a_clear_error(tmp_path):
    path = tmp_path / "vgg16-imagenet.pth"
    torch.save(VGG16Trunk(width=1.0).state_dict(), path)
    with pytest.raises(ValueError, match=r"vgg16-imagenet\.pth.*features\.0\.weight.*width"):
        load_torchvision_state_dict(VGG16Trunk(width=0.25), path)


def test_file_without_features_is_rejected(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(ValueError, match=r"other\.pth.*missing"):
        load_torchvision_state_dict(VGG16Trunk(width=0.25), path)


@pytest.mark.parametrize("preset, batch", [("cpu", 8), ("paper", 2)])
def test_encoder_decoder_shapes_and_embed(preset, batch):
    torch.manual_seed(0)
    cfg = VAEConfig.preset(preset)
    vae = VAE(cfg).eval()
    x = torch.randn(batch, 3, 64, 64)
    with torch.no_grad():
        mean, logvar = vae.encode(x)
        assert mean.shape == logvar.shape == (batch, 128)
        assert torch.equal(vae.embed(x), mean)
        assert vae.decode(mean).shape == (batch, 3, 64, 64)
        assert vae.prior.log_prob_bound(mean, cfg.importance_samples).shape == (batch,)


def test_presets():
    paper, cpu = VAEConfig.paper(), VAEConfig.cpu()
    assert paper.width == 1.0 and paper.decoder_channels == (256, 128, 64, 32, 16)
    assert paper.latent_dim == cpu.latent_dim == 128 and paper.importance_samples == 8
    assert paper.prior_hidden == (512, 512)
    assert cpu.width < 1.0
    assert VAEConfig.cpu(latent_dim=16).latent_dim == 16
    with pytest.raises(KeyError):
        VAEConfig.preset("gpu")


def test_decoder_stage_channels_follow_the_config():
    dec = Decoder(VAEConfig.paper())
    convt = [m.out_channels for m in dec.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    conv = [m.out_channels for m in dec.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convt == [256, 128, 64, 32, 16]
    assert conv == [256, 128, 64, 32, 16, 3]
    enc = Encoder(VAEConfig.cpu())
    assert enc.mean.in_features == 128 * 2 * 2


def test_config_dict_round_trip_rebuilds_the_same_model():
    cfg = VAEConfig.cpu(latent_dim=32)
    back = VAEConfig.from_dict(cfg.to_dict())
    assert back == cfg
    a, b = VAE(cfg), VAE(back)
    b.load_state_dict(a.state_dict())   # same architecture: keys and shapes agree


def test_config_rejects_unreachable_image_size():
    with pytest.raises(ValueError):
        VAEConfig(image_size=48)
