"""Checkpoints that unpickle safely but have the wrong structure end in one
BadCheckpoint line, before a model is built or anything large allocated."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from codec import checkpoint as ckpt_io
from codec.cli import main
from codec.errors import BadCheckpoint

TINY = Path(__file__).resolve().parents[1] / "fuzz" / "models" / "mean-scale-q3.pt"


@pytest.fixture(scope="module")
def raw() -> dict:
    return torch.load(TINY, map_location="cpu", weights_only=True)


def _copy(d: dict) -> dict:
    out = dict(d)
    out["config"] = {k: dict(v) for k, v in d["config"].items()}
    out["state_dict"] = dict(d["state_dict"])
    out["tables"] = {k: dict(v) for k, v in d["tables"].items()}
    return out


def _set_N(d, v):
    d["config"]["model"]["N"] = v


def _first_weight(d, v):
    k = next(k for k, t in d["state_dict"].items() if t.is_floating_point())
    d["state_dict"][k] = v


def _table(d, key, v):
    d["tables"]["entropy_bottleneck"][key] = v


CASES = {
    "config stored as a string": (lambda d: d.__setitem__("config", "N=128"), "config is a str"),
    "state-dict value not a tensor": (lambda d: _first_weight(d, [1.0, 2.0]), "not a tensor"),
    "state_dict a list": (lambda d: d.__setitem__("state_dict", [1, 2]), "state_dict is a list"),
    "tables without their keys": (lambda d: d["tables"]["entropy_bottleneck"].pop("pmf"), "lacks tensors"),
    "tables a string": (lambda d: d.__setitem__("tables", "x"), "tables is a str"),
    "N = 100000": (lambda d: _set_N(d, 100000), "model.N = 100000 is outside 1..1024"),
    "N = 0": (lambda d: _set_N(d, 0), "outside"),
    "N as a string": (lambda d: _set_N(d, "128"), "outside"),
    "N as a bool": (lambda d: _set_N(d, True), "outside"),
    "M = -3": (lambda d: d["config"]["model"].__setitem__("M", -3), "model.M"),
    "quality 1000": (lambda d: d["config"]["model"].__setitem__("quality", 1000), "model.quality"),
    "config value a tensor": (lambda d: d["config"]["train"].__setitem__("lr", torch.ones(3)), "type Tensor"),
    "NaN weights": (lambda d: _first_weight(d, torch.full((3,), float("nan"))), "NaN or infinite"),
    "negative pmf": (lambda d: _table(d, "pmf", -d["tables"]["entropy_bottleneck"]["pmf"].abs() - 1),
                     "non-negative"),
    "pmf of another channel count": (lambda d: _table(d, "pmf", torch.ones(3, 5)), "pmf must be"),
    "start as floats": (lambda d: _table(d, "start", d["tables"]["entropy_bottleneck"]["start"].float()),
                        "start must be"),
    "tables for other channels": (lambda d: d.__setitem__("tables", {"entropy_bottleneck": {
        "medians": torch.zeros(5), "start": torch.zeros(5, dtype=torch.int32), "pmf": torch.ones(5, 4)}}),
        "its density has"),
    "huge table span": (lambda d: _table(d, "start", torch.full_like(
        d["tables"]["entropy_bottleneck"]["start"], 1 << 20)), "symbol range"),
    "card a list": (lambda d: d.__setitem__("card", [1]), "card"),
    "unknown model": (lambda d: d.__setitem__("model", "jpeg-killer"), "unknown model"),
    "model a number": (lambda d: d.__setitem__("model", 3), "not a name"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_checkpoint_is_one_line(tmp_path, raw, case):
    damage, words = CASES[case]
    d = _copy(raw)
    damage(d)
    p = tmp_path / "bad.pt"
    torch.save(d, p)
    t0 = time.perf_counter()
    with pytest.raises(BadCheckpoint) as e:
        ckpt_io.load(p).build_model()
    assert time.perf_counter() - t0 < 10
    assert words in str(e.value) and "\n" not in str(e.value)


def test_valid_checkpoint_passes_the_schema(raw, tmp_path):
    p = tmp_path / "ok.pt"
    torch.save(_copy(raw), p)
    assert ckpt_io.load(p).build_model().frozen


def test_cli_reports_malformed_checkpoint_in_one_line(tmp_path, raw, capsys):
    d = _copy(raw)
    _set_N(d, 100000)
    p = tmp_path / "huge.pt"
    torch.save(d, p)
    img = tmp_path / "x.png"
    from PIL import Image
    Image.new("RGB", (8, 8)).save(img)
    assert main(["compress", str(img), "-o", str(tmp_path / "x.lic"), "--checkpoint", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "model.N = 100000" in err
