from __future__ import annotations

import pytest
import torch

from wikivis.embed.models import (
    EFFICIENTNET_PREPROCESSING,
    MODELS,
    describe_models,
    load_model,
    model_dir_name,
    resolve_model_id,
    weights_version,
)
from wikivis.embed.resnet import ResNet50
from wikivis.errors import ConfigError


def test_registry_lists_the_models_with_their_dims(settings):
    assert {"efficientnet-lite0", "resnet50", "resnet50-random"} <= set(MODELS)
    dims = {row["id"]: row["dim"] for row in describe_models(settings)}
    assert dims["efficientnet-lite0"] == 1280
    assert dims["resnet50"] == 2048
    available = {row["id"]: row["available"] for row in describe_models(settings)}
    assert available["efficientnet-lite0"] is True
    assert available["resnet50"] is False  # no weights configured


def test_default_model_comes_from_settings(settings):
    assert resolve_model_id(settings) == "efficientnet-lite0"
    assert resolve_model_id(settings.replace(model="resnet50-random")) == "resnet50-random"


@pytest.mark.parametrize("bad", ["resnet18", "open_clip:ViT-B-32", "open_clip:/x"])
def test_unknown_or_malformed_model_ids_are_config_errors(settings, bad):
    with pytest.raises(ConfigError):
        resolve_model_id(settings, bad)


def test_open_clip_without_local_weights_is_a_clear_config_error(settings):
    with pytest.raises(ConfigError, match="open_clip"):
        load_model(settings, "open_clip:ViT-B-32/no-such-weights-here")


def test_efficientnet_lite0_loads_real_weights_with_its_own_preprocessing(settings):
    model = load_model(settings, "efficientnet-lite0")
    assert model.dim == 1280
    assert len(model.version) == 16
    assert int(model.version, 16) >= 0
    assert model.preprocessing == EFFICIENTNET_PREPROCESSING
    assert model.preprocessing.mean == (127.0, 127.0, 127.0)
    assert model.preprocessing.std == (128.0, 128.0, 128.0)
    assert not model.module.training
    with torch.inference_mode():
        out = model.features(torch.zeros(2, 3, 224, 224))
    assert out.shape == (2, 1280)


def test_resnet50_has_torchvision_names_and_size():
    net = ResNet50()
    names = set(net.state_dict())
    assert {
        "conv1.weight",
        "bn1.running_mean",
        "layer1.0.downsample.0.weight",
        "layer4.2.bn3.weight",
        "fc.bias",
    } <= names
    assert sum(p.numel() for p in net.parameters()) == 25_557_032  # torchvision resnet50


def test_resnet50_needs_a_local_weights_file(settings, tmp_path):
    with pytest.raises(ConfigError, match="RESNET50_WEIGHTS"):
        load_model(settings, "resnet50")
    with pytest.raises(ConfigError, match="does not exist"):
        load_model(settings.replace(resnet50_weights=str(tmp_path / "missing.pth")), "resnet50")
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, wrong)
    with pytest.raises(ConfigError, match="does not match"):
        load_model(settings.replace(resnet50_weights=str(wrong)), "resnet50")


def test_resnet50_loads_a_torchvision_format_state_dict(settings, tmp_path):
    random_model = load_model(settings, "resnet50-random")
    path = tmp_path / "resnet50.pth"
    torch.save(random_model.module.state_dict(), path)
    model = load_model(settings.replace(resnet50_weights=str(path)), "resnet50")
    assert model.dim == 2048
    assert model.version == weights_version(path)
    x = torch.zeros(1, 3, 224, 224)
    with torch.inference_mode():
        assert torch.equal(model.features(x), random_model.features(x))


def test_model_dir_names_are_path_safe():
    assert model_dir_name("efficientnet-lite0") == "efficientnet-lite0"
    name = model_dir_name("open_clip:ViT-B-32/laion2b_s34b_b79k")
    assert "/" not in name
    assert ":" not in name
    assert model_dir_name("open_clip:a/../../etc") != model_dir_name("open_clip:a/etc")
    for tricky in ("open_clip:a/../../etc", "open_clip:../x", "open_clip:a/."):
        safe = model_dir_name(tricky)
        assert "/" not in safe
        assert safe not in (".", "..")
        assert not safe.startswith(".")
