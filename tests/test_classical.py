"""Classical codecs: real files that decode to the right shape, rate and
quality rising with the setting, names and missing libraries reported."""
import sys

import pytest

from codec.evaluation import classical
from codec.errors import CodecError
from codec.metrics import bpp, psnr
from conftest import natural_like

ALL = sorted(classical.table())


def _usable(name: str) -> classical.ClassicalCodec:
    c = classical.table()[name]
    if c.missing():
        pytest.skip(f"{name}: {c.missing()}")
    return c


@pytest.mark.parametrize("name", ALL)
def test_round_trip_and_rate_quality_rise_with_the_setting(name):
    c = _usable(name)
    rgb = natural_like(72, 96, seed=2)
    lo, hi = c.settings[1], c.settings[-3]
    small, large = c.encode(rgb, lo), c.encode(rgb, hi)
    rec_small, rec_large = c.decode(small), c.decode(large)
    assert rec_small.shape == rgb.shape and rec_small.dtype == rgb.dtype
    assert len(small) < len(large)
    assert psnr(rgb, rec_small) < psnr(rgb, rec_large)


def test_jpeg2000_setting_is_the_target_rate():
    c = _usable("jpeg2000")
    rgb = natural_like(192, 256, seed=4)
    for target in (0.5, 1.0):
        assert 0.8 * target < bpp(len(c.encode(rgb, target)), 192, 256) <= 1.05 * target


def test_jpeg_444_keeps_more_colour_than_420():
    rgb = natural_like(64, 64, seed=1)
    t = classical.table()
    d420, d444 = (t[n].decode(t[n].encode(rgb, 90)) for n in ("jpeg-420", "jpeg-444"))
    assert psnr(rgb, d444) > psnr(rgb, d420)


def test_aliases_expand_and_repeats_are_dropped():
    names = [c.name for c in classical.resolve(["jpeg", "jpeg-420", "hevc", "bpg"])]
    assert names == ["jpeg-420", "jpeg-444", "hevc-444"]
    assert classical.anchor_name("jpeg") == "jpeg-420"
    assert classical.anchor_name("mean-scale") is None


def test_unknown_codec_names_the_known_ones():
    with pytest.raises(CodecError, match="unknown codec 'bpg2'.*jpeg-420"):
        classical.resolve(["bpg2"])


def test_missing_library_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "pillow_heif", None)      # import now fails
    c = classical.table()["hevc-444"]
    with pytest.raises(classical.MissingLibrary, match="pillow-heif"):
        c.check()


def test_settings_are_written_in_one_form():
    assert classical.format_setting(50) == "50" and classical.format_setting(50.0) == "50"
    assert classical.format_setting(0.15) == "0.15"
