"""The model contract: registry, build(config), geometry, cpu_parts, freeze."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from codec import api, container, models
from codec.entropy import FactorizedTables, FrozenTables
from codec.errors import BadCheckpoint, NotFrozen
from codec.models.base import TransformConfig

from conftest import MODEL_NAMES


def tiny(name: str) -> models.CodecModel:
    torch.manual_seed(0)
    return models.build(TransformConfig(name=name, N=8, M=12))


def test_every_registry_entry_builds_from_its_default_config():
    for name, e in models.registry().items():
        cfg = models.default_config(name)
        assert type(cfg) is e.config_cls and cfg.name == name
        assert isinstance(models.build(cfg), e.cls)


def test_changing_family_keeps_shared_fields():
    cfg = models.config_for("factorized", TransformConfig(name="mean-scale", quality=7, N=64, M=96))
    assert (cfg.name, cfg.quality, cfg.N, cfg.M) == ("factorized", 7, 64, 96)


def test_stored_config_with_unknown_field_is_refused():
    with pytest.raises(BadCheckpoint, match="unknown field 'K'"):
        models.config_from_dict({"name": "hyperprior", "N": 8, "M": 12, "K": 3})


@pytest.mark.parametrize("name,strides", [("factorized", {"y": 16}), ("hyperprior", {"z": 64, "y": 16}),
                                          ("mean-scale", {"z": 64, "y": 16})])
def test_geometry_is_read_off_the_transforms(name, strides):
    net = tiny(name)
    g = net.geometry(50, 70)
    s = max(strides.values())
    assert g.stride == s and g.padded == (-(-50 // s) * s, -(-70 // s) * s)
    assert g.pad == (g.padded[0] - 50, g.padded[1] - 70)
    assert list(g.latents) == list(strides)          # section order of the file
    x = torch.rand(1, 3, *g.padded)
    y = net.analysis(x)
    assert tuple(y.shape[1:]) == g.latents["y"]
    if "z" in g.latents:
        assert tuple(net.hyper_analysis(y).shape[1:]) == g.latents["z"]


def test_a_deeper_analysis_transform_changes_the_stride():
    net = tiny("factorized")
    net.g_a.append(torch.nn.Conv2d(12, 12, 3, stride=2, padding=1))
    assert net.stride == 32 and net.geometry(33, 1).padded == (64, 32)


def test_every_family_fits_the_file_format():
    for e in models.registry().values():
        assert 1 <= len(e.cls.latent_paths) <= container.MAX_SECTIONS


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_cpu_parts_are_children_and_the_api_places_them_on_the_cpu(name, monkeypatch):
    net = tiny(name)
    assert set(net.cpu_parts) <= dict(net.named_children()).keys()
    moved = []
    for child_name, child in net.named_children():
        monkeypatch.setattr(child, "to", lambda *a, _n=child_name, **k: moved.append((_n, str(a[0]))))
    api.place(net, torch.device("meta"))
    for child_name, dev in moved:
        assert dev == ("cpu" if child_name in net.cpu_parts else "meta"), child_name


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_coding_an_unfrozen_model_says_freeze_first(name):
    net = tiny(name).eval()
    with pytest.raises(NotFrozen, match="freeze it first"), torch.inference_mode():
        net.compress(torch.rand(1, 3, 64, 64))


def test_freeze_returns_typed_tables_for_every_density():
    net = tiny("mean-scale")
    t = net.freeze()
    assert isinstance(t, FrozenTables) and set(t.factorized) == {"entropy_bottleneck"}
    assert all(isinstance(v, FactorizedTables) for v in t.factorized.values())
    again = FrozenTables.from_dict(t.to_dict())
    assert dataclasses.fields(again) and again.factorized.keys() == t.factorized.keys()
    assert net.frozen
