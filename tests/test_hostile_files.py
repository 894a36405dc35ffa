"""Files altered by someone who recomputes the CRC: every one ends in a
one-line CodecError, quickly, before anything large is allocated.

The cases are those of issue 16 (each was a traceback or a runaway before):
altered payloads, a [0, 1] alphabet for y, a changed UQ seed, a quantizer id
flipped to UQ over rounding payloads, empty payloads for many symbols, and
headers that claim images too large for the model's memory limit.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest

from codec import api, container, limits, rangecoder
from codec.errors import CodecError, CorruptFile
from codec.quantize import QuantizerKind
from conftest import MODEL_NAMES, natural_like

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"


@pytest.fixture(scope="module")
def coded():
    """(model, rounding file, UQ file) per family, from the fuzzer's tiny models (N=8)."""
    out = {}
    for name in MODEL_NAMES:
        m = api.load_model(FUZZ / "models" / f"{name}-q3.pt", device="cpu")
        img = natural_like(40, 52, seed=3)
        out[name] = (m, api.compress(img, m), api.compress(img, m, QuantizerKind.UNIVERSAL, seed=11))
    return out


def repack(data: bytes, header=None, sections=None, **fields) -> bytes:
    """Re-pack a file with changed header fields or sections: the CRC stays valid."""
    h, s = container.unpack(data)
    h = dataclasses.replace(header or h, **fields)
    return container.pack(h, s if sections is None else sections)


def refused(data: bytes, model, seconds: float = 20.0) -> str:
    t0 = time.perf_counter()
    with pytest.raises(CodecError) as e:
        api.decompress(data, model)
    assert time.perf_counter() - t0 < seconds
    msg = str(e.value)
    assert msg and "\n" not in msg
    return msg


def never_crashes(data: bytes, model) -> None:
    """A one-line CodecError, or a decoded image of the header's size: never anything else."""
    try:
        out = api.decompress(data, model)
    except CodecError as e:
        assert str(e) and "\n" not in str(e)
        return
    h, _ = container.unpack(data)
    assert out.shape == (h.height, h.width, 3) and out.dtype == np.uint8


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_altered_payloads_are_corrupt_files(coded, name):
    m, rnd, uq = coded[name]
    for damage, data in [(d, f) for d in ("ones", "zeros", "flip-first", "reverse", "truncate-word")
                         for f in (rnd, uq)]:
        h, sections = container.unpack(data)
        for i, s in enumerate(sections):
            p = s.payload
            new = {"ones": b"\xff" * len(p), "zeros": bytes(len(p)),
                   "flip-first": bytes([p[0] ^ 0x80]) + p[1:], "reverse": p[::-1],
                   "truncate-word": p[:-4] if len(p) > 4 else p + b"\0\0\0\0"}[damage]
            if new == p:
                continue
            changed = sections[:i] + [dataclasses.replace(s, payload=new)] + sections[i + 1:]
            never_crashes(container.pack(h, changed), m)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_zero_one_alphabet_for_y(coded, name):
    m, rnd, _ = coded[name]
    h, sections = container.unpack(rnd)
    y = sections[-1]
    sections[-1] = dataclasses.replace(y, lo=0, hi=1)
    never_crashes(container.pack(h, sections), m)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_changed_uq_seed_and_flipped_quantizer(coded, name):
    m, rnd, uq = coded[name]
    for seed in (0, 12, (1 << 64) - 1):
        never_crashes(repack(uq, seed=seed), m)
    never_crashes(repack(rnd, quantizer=1, seed=99), m)
    never_crashes(repack(uq, quantizer=0), m)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_empty_payloads_for_many_symbols_are_refused_fast(coded, name):
    """The issue's 66-byte file: consistent shapes, empty payloads, a big image."""
    m, rnd, _ = coded[name]
    h, sections = container.unpack(rnd)
    H = W = 2048
    shapes = [tuple(s) for s in m.net.geometry(H, W).latents.values()]
    empty = [container.Section(sh, sec.lo, sec.hi, b"") for sh, sec in zip(shapes, sections)]
    data = container.pack(dataclasses.replace(h, height=H, width=W), empty)
    assert len(data) < 120
    assert "payload" in refused(data, m, seconds=10)


def test_header_beyond_the_pixel_limit_is_refused_before_decoding(ckpt_dir):
    m = api.load_model(ckpt_dir / "mean-scale-q3.pt", device="cpu")
    rnd = api.compress(natural_like(20, 20), m)
    side = 16384                       # 268 Mpx > max_pixels(32) = 67 Mpx
    assert side * side > limits.max_pixels(m.net.N)
    msg = refused(repack(rnd, height=side, width=side), m, seconds=5)
    assert "Mpx" in msg and "limit" in msg


def test_pixel_limit_follows_model_width():
    assert limits.max_pixels(128) == 1 << 24 == 4096 * 4096
    assert limits.max_pixels(192) < limits.max_pixels(128) < limits.max_pixels(32)
    assert limits.max_pixels(1) == limits.MAX_SIDE ** 2
    assert limits.check_pixels(4096, 4096, 128) is None
    assert "exceeds" in limits.check_pixels(16384, 16384, 128)


def test_payload_bounds_hold_for_real_sections(coded):
    for m, rnd, uq in coded.values():
        for data in (rnd, uq):
            for s in container.unpack(data)[1]:
                lo, hi = limits.payload_bounds(int(np.prod(s.shape)), s.hi - s.lo + 1)
                assert lo <= len(s.payload) <= hi
    assert limits.payload_bounds(10 ** 6, 2)[0] == 4          # one word at least
    assert limits.payload_bounds(10 ** 7, 1 << 16)[0] > 1000   # wide alphabets cost bits


def test_range_coder_parameters_checked_before_constriction(capfd):
    """No Rust panic (with its multi-line stderr) for NaN, zero or negative scales."""
    dec = rangecoder.Decoder(b"\x01\x00\x00\x00")
    for stds in (np.full(4, np.nan), np.zeros(4), -np.ones(4)):
        with pytest.raises(CorruptFile):
            dec.gaussian(np.zeros(4), stds, -2, 2)
    with pytest.raises(CorruptFile):
        dec.gaussian(np.zeros(4), np.ones(4), 1, -1)
    with pytest.raises(CorruptFile):
        dec.categorical(4, np.array([np.nan, 1.0]))
    with pytest.raises(CorruptFile):
        dec.categorical(4, np.array([1.0]))
    assert "panicked" not in capfd.readouterr().err


def test_constriction_invalid_data_becomes_corrupt_file():
    """constriction's AssertionError ('invalid for the employed entropy model')."""
    dec = rangecoder.Decoder(b"\xff" * 8)
    with pytest.raises(CorruptFile, match="invalid for its entropy model"):
        for _ in range(50):
            dec.categorical(100, np.array([0.5, 0.5]))


def _info(path, capsys, extra=()):
    from codec.cli import main
    code = main(["info", str(path), *extra])
    cap = capsys.readouterr()
    return code, cap.out, cap.err.strip()


@pytest.mark.parametrize("change", ["extra section", "other image size", "empty y payload"])
def test_info_refuses_what_decompress_refuses(tmp_path, coded, capsys, change):
    """codec info runs decompress's file checks (filecheck) before printing."""
    m, rnd, _ = coded["factorized"] if change == "extra section" else coded["mean-scale"]
    h, sections = container.unpack(rnd)
    if change == "extra section":
        data = container.pack(h, sections + sections[-1:])
    elif change == "other image size":
        data = container.pack(dataclasses.replace(h, height=h.height + 64), sections)
    else:
        data = container.pack(h, sections[:-1] + [dataclasses.replace(sections[-1], payload=b"")])
    refused(data, m)
    p = tmp_path / "bad.lic"
    p.write_bytes(data)
    code, out, err = _info(p, capsys, ["--checkpoint", str(FUZZ / "models" / f"{m.name}-q3.pt")])
    assert code == 2 and out == "" and len(err.splitlines()) == 1


def test_info_on_a_good_file_checks_shapes(tmp_path, coded, capsys):
    m, rnd, _ = coded["hyperprior"]
    p = tmp_path / "good.lic"
    p.write_bytes(rnd)
    code, out, _ = _info(p, capsys, ["--checkpoint", str(FUZZ / "models" / "hyperprior-q3.pt")])
    assert code == 0 and "latent shapes checked" in out
