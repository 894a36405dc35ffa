"""Make the fuzzer's seed corpus: tiny seeded models and real files they coded.

    python fuzz/make_corpus.py            # writes fuzz/models/*.pt and fuzz/corpus/*.lic

Models are untrained, seeded (same bytes on every run on CPU), N=8, M=12, so
each is a few tens of KB; images are small synthetic ones (smooth + noise), a
few sizes, rounding and universal quantization. Everything is deterministic,
so rerunning after a format change rewrites the same set in the new format.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from codec import api
from codec.quantize import QuantizerKind
from codec.training.train import untrained_checkpoint

HERE = Path(__file__).resolve().parent
FAMILIES = ("factorized", "hyperprior", "mean-scale")
SIZES = ((16, 16), (40, 52), (70, 33), (130, 65))


def tiny_model(name: str, path: Path, seed: int = 0, N: int = 8, M: int = 12) -> Path:
    """A frozen, seeded, untrained model of family ``name`` saved at ``path``."""
    return untrained_checkpoint(name, path, seed, N, M, note="fuzz seed model")


def image(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([np.sin(xx / 7.0 + c) * np.cos(yy / 11.0 - c) for c in range(3)], -1)
    return np.clip(127 + 90 * base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=HERE)
    a = p.parse_args()
    (a.out / "models").mkdir(parents=True, exist_ok=True)
    (a.out / "corpus").mkdir(parents=True, exist_ok=True)
    for name in FAMILIES:
        m = api.load_model(tiny_model(name, a.out / "models" / f"{name}-q3.pt"), device="cpu")
        for i, (h, w) in enumerate(SIZES):
            for q in QuantizerKind:
                data = api.compress(image(h, w, i), m, q, seed=1000 + i)
                (a.out / "corpus" / f"{name}-{h}x{w}-{q.name.lower()}.lic").write_bytes(data)
    total = sum(f.stat().st_size for f in a.out.rglob("*") if f.is_file() and f.suffix in (".pt", ".lic"))
    print(f"wrote {len(list((a.out / 'corpus').glob('*.lic')))} files and 3 models, {total} bytes")


if __name__ == "__main__":
    main()
