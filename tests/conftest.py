"""Shared fixtures: small untrained models frozen into real checkpoints.

Nothing here needs ../shared; tests that use Kodak are marked and skip
cleanly when the folder is absent.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codec.training.train import untrained_checkpoint

SHARED = Path(__file__).resolve().parents[2] / "shared"
KODAK = SHARED / "data" / "kodak"
MODEL_NAMES = ("factorized", "hyperprior", "mean-scale")


def load_script(name: str):
    """scripts/<name>.py as a module (the scripts are not a package), registered
    in sys.modules so its dataclasses resolve their own module."""
    import importlib.util
    import sys
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def make_checkpoint(name: str, path: Path, seed: int = 0, N: int = 32, M: int = 48) -> Path:
    return untrained_checkpoint(name, path, seed, N, M)


@pytest.fixture(scope="session")
def ckpt_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("checkpoints")
    for name in MODEL_NAMES:
        make_checkpoint(name, d / f"{name}-q3.pt")
    return d


@pytest.fixture()
def env_ckpts(ckpt_dir, monkeypatch) -> Path:
    monkeypatch.setenv("CODEC_CHECKPOINTS", str(ckpt_dir))
    return ckpt_dir


def natural_like(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth synthetic RGB image (uint8) with some texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([np.sin(xx / 9.0 + c) * np.cos(yy / 13.0 - c) for c in range(3)], -1)
    img = 127 + 80 * base + rng.normal(0, 6, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def needs_kodak():
    return pytest.mark.skipif(not KODAK.is_dir(), reason="needs ../shared/data/kodak")
