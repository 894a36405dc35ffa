"""The fuzz target runs (a short bounded time in the default suite, about a
minute in .ci/run) and finds nothing; the inputs it found once stay fixed."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "fuzz"))

import fuzz_decompress as fz  # noqa: E402

REGRESSIONS = ROOT / "tests" / "fuzz_regressions"


@pytest.fixture(scope="module")
def target():
    return fz.Target([ROOT / "fuzz" / "models"], findings=None, slow=30.0)


def test_seed_corpus_is_small_and_covers_every_family_and_quantizer():
    files = sorted((ROOT / "fuzz" / "corpus").glob("*.lic"))
    names = {f.name.split("-")[0] for f in files}
    assert {"factorized", "hyperprior", "mean"} <= names
    assert any("universal" in f.name for f in files) and any("round" in f.name for f in files)
    total = sum(f.stat().st_size for f in files) + sum(f.stat().st_size for f in (ROOT / "fuzz" / "models").glob("*.pt"))
    assert total < 300_000


def test_mutations_keep_the_crc_valid():
    import random

    from codec import container
    rng = random.Random(1)
    corpus = fz.load_corpus(ROOT / "fuzz" / "corpus")
    crc_ok = 0
    for i in range(200):
        data = fz.mutate(corpus[i % len(corpus)], rng)
        try:
            container.unpack(data)
            crc_ok += 1
        except Exception as e:
            assert "CRC" not in str(e)
    assert crc_ok > 50


def test_short_fuzz_run_finds_nothing(target):
    n = fz.run_plain(target, fz.load_corpus(ROOT / "fuzz" / "corpus"), seconds=8.0, seed=0)
    assert n >= len(fz.load_corpus(ROOT / "fuzz" / "corpus"))
    assert target.findings == [], target.findings


@pytest.mark.parametrize("path", sorted(REGRESSIONS.glob("*.lic")), ids=lambda p: p.stem)
def test_kept_fuzz_findings_end_in_one_line_errors(target, path):
    target(path.read_bytes())
    assert target.findings == []
