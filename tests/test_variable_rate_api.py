"""Variable rate through the API and the command line: real qualities in the
header, target size / bpp, and the one-line refusals (exit 2, no output)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from codec import api, container
from codec.cli import main

from conftest import make_checkpoint, natural_like

IMAGE = natural_like(64, 96, seed=5)


@pytest.fixture(scope="module")
def vr_ckpt(tmp_path_factory):
    return make_checkpoint("mean-scale-vr", tmp_path_factory.mktemp("vr") / "mean-scale-vr.pt", N=16, M=24)


@pytest.fixture(scope="module")
def vr(vr_ckpt):
    return api.load_model(vr_ckpt, device="cpu")


@pytest.fixture(scope="module")
def fixed_ckpt(tmp_path_factory):
    return make_checkpoint("mean-scale", tmp_path_factory.mktemp("fx") / "mean-scale-q3.pt", N=16, M=24)


@pytest.fixture()
def png(tmp_path):
    p = tmp_path / "in.png"
    Image.fromarray(IMAGE).save(p)
    return p


def run_err(args, capsys) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("codec: error:"), err
    return err


def test_header_records_the_fractional_quality_and_decodes_at_it(vr):
    res = api.compress_full(IMAGE, vr, quality=2.3)
    h, _ = container.unpack(res.data)
    assert h.quality == round(2.3 * 256) / 256
    np.testing.assert_array_equal(api.decompress(res.data, vr), res.reconstruction)


def test_default_quality_of_a_variable_rate_model_is_its_reference_anchor(vr):
    assert container.unpack(api.compress(IMAGE, vr))[0].quality == 3.0
    assert vr.quality_range == (1, 5)


def test_file_size_grows_with_quality_through_the_api(vr):
    sizes = [len(api.compress(IMAGE, vr, quality=q)) for q in (1, 2, 3, 4, 5)]
    assert all(a < b for a, b in zip(sizes, sizes[1:])), sizes


def test_target_size_never_exceeds_over_a_range_of_sizes(vr):
    lo, hi = len(api.compress(IMAGE, vr, quality=1)), len(api.compress(IMAGE, vr, quality=5))
    for target in np.linspace(lo, hi + 200, 9).astype(int):
        t = api.compress_to_target(IMAGE, vr, size=int(target))
        assert len(t.compressed.data) <= target
        assert t.encodes <= api.MAX_TARGET_ENCODES + 1
        assert container.unpack(t.compressed.data)[0].quality == t.quality
        if target >= hi:
            assert t.quality == 5.0


def test_target_bpp_lands_within_3_percent_below(vr):
    pixels = IMAGE.shape[0] * IMAGE.shape[1]
    lo, hi = (8 * len(api.compress(IMAGE, vr, quality=q)) / pixels for q in (1, 5))
    for target in np.linspace(lo * 1.1, hi * 0.95, 5):
        t = api.compress_to_target(IMAGE, vr, bpp=float(target), reconstruct=True)
        got = 8 * len(t.compressed.data) / pixels
        assert target * 0.97 <= got <= target, (target, got, t.quality)
        np.testing.assert_array_equal(api.decompress(t.compressed.data, vr), t.compressed.reconstruction)


def test_an_impossible_target_names_the_smallest_size(vr):
    smallest = len(api.compress(IMAGE, vr, quality=1))
    with pytest.raises(api.TargetUnreachable, match=f"smallest file .* is {smallest} bytes"):
        api.compress_to_target(IMAGE, vr, size=smallest - 1)


def test_cli_quality_info_and_round_trip(tmp_path, png, vr_ckpt, capsys):
    lic, out = tmp_path / "a.lic", tmp_path / "a.png"
    assert main(["compress", str(png), "-o", str(lic), "--checkpoint", str(vr_ckpt), "--quality", "3.5"]) == 0
    assert main(["info", str(lic), "--checkpoint", str(vr_ckpt)]) == 0
    printed = capsys.readouterr().out
    assert "mean-scale-vr" in printed and "variable rate, quality 3.5," in printed and "version 4" in printed
    assert main(["decompress", str(lic), "-o", str(out), "--checkpoint", str(vr_ckpt)]) == 0
    assert np.asarray(Image.open(out)).shape == IMAGE.shape


def test_cli_target_size_is_a_ceiling(tmp_path, png, vr_ckpt):
    lic = tmp_path / "t.lic"
    target = len(api.compress(IMAGE, api.load_model(vr_ckpt, device="cpu"), quality=3)) + 37
    assert main(["compress", str(png), "-o", str(lic), "--checkpoint", str(vr_ckpt),
                 "--target-size", str(target)]) == 0
    assert lic.stat().st_size <= target


def test_the_shipped_lookup_finds_a_variable_rate_model_by_its_name(tmp_path, png, vr_ckpt, monkeypatch):
    d = tmp_path / "ckpts"
    d.mkdir()
    (d / "mean-scale-vr.pt").write_bytes(vr_ckpt.read_bytes())
    monkeypatch.setenv("CODEC_CHECKPOINTS", str(d))
    lic, out = tmp_path / "s.lic", tmp_path / "s.png"
    assert main(["compress", str(png), "-o", str(lic), "--model", "mean-scale-vr", "--quality", "1.25"]) == 0
    assert main(["decompress", str(lic), "-o", str(out)]) == 0      # the decoder finds it by digest


@pytest.mark.parametrize("extra, message", [
    (["--quality", "5.5"], "quality 5.5 is outside this model's range 1..5"),
    (["--quality", "0.5"], "quality 0.5 is outside this model's range 1..5"),
    (["--target-size", "10", "--target-bpp", "0.5"], "not allowed with"),
    (["--target-size", "20"], "smallest file this model makes of this image is"),
    (["--target-bpp", "0.5", "--quality", "2"], "exclude each other"),
    (["--target-bpp", "-1"], "target bpp -1 is outside"),
])
def test_bad_variable_rate_input_is_one_line_exit_2_and_no_output(tmp_path, png, vr_ckpt, capsys, extra, message):
    lic = tmp_path / "bad.lic"
    err = run_err(["compress", str(png), "-o", str(lic), "--checkpoint", str(vr_ckpt), *extra], capsys)
    assert message in err and not lic.exists()


@pytest.mark.parametrize("extra, message", [
    (["--quality", "4"], "fixed-rate at quality 3; it cannot code at quality 4"),
    (["--target-size", "1000"], "fixed-rate (quality 3): a target size needs a variable-rate model"),
    (["--target-bpp", "0.5"], "fixed-rate (quality 3)"),
])
def test_fixed_rate_checkpoints_refuse_other_qualities_and_targets(tmp_path, png, fixed_ckpt, capsys, extra, message):
    lic = tmp_path / "bad.lic"
    err = run_err(["compress", str(png), "-o", str(lic), "--checkpoint", str(fixed_ckpt), *extra], capsys)
    assert message in err and not lic.exists()


def test_fixed_rate_checkpoint_at_its_own_quality_still_codes(tmp_path, png, fixed_ckpt):
    lic = tmp_path / "ok.lic"
    assert main(["compress", str(png), "-o", str(lic), "--checkpoint", str(fixed_ckpt), "--quality", "3"]) == 0
    assert container.unpack(lic.read_bytes())[0].quality == 3


def test_fractional_quality_for_a_shipped_fixed_rate_model_is_refused(tmp_path, png, env_ckpts, capsys):
    err = run_err(["compress", str(png), "-o", str(tmp_path / "x.lic"), "--quality", "2.5"], capsys)
    assert "fixed-rate model" in err
