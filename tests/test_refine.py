"""Encode-time latent refinement (codec.refine): the file stays a normal file,
refinement lowers the loss, and it can never make a file larger and worse."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from codec import api, refine
from codec.cli import main
from codec.image import to_tensor
from codec.quantize import QuantizerKind

from conftest import MODEL_NAMES, natural_like

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rgb():
    return natural_like(48, 64, seed=3)


def _model(ckpt_dir, name):
    return api.load_model(ckpt_dir / f"{name}-q3.pt", device="cpu")


def _start(m, rgb):
    """g_a's latents of ``rgb`` (padded to the model's stride): where refinement starts."""
    x = api.pad(to_tensor(rgb), m.net.geometry(*rgb.shape[:2]).stride)
    with torch.inference_mode():
        return m.net.encode_latents(x)


def test_loaded_model_knows_its_lambda(ckpt_dir):
    m = _model(ckpt_dir, "mean-scale")
    assert m.lmbda is not None and m.lmbda > 0


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("q", [QuantizerKind.ROUND, QuantizerKind.UNIVERSAL])
def test_refinement_lowers_the_loss_and_decodes_without_flags(ckpt_dir, rgb, name, q):
    m = _model(ckpt_dir, name)
    u = api._dither_fn(q, 7)
    start = _start(m, rgb)
    # lr 0.2: the untrained test models have tiny latents that need a long way to a new integer
    r = refine.refine(m.net, to_tensor(rgb), start, m.lmbda, 30, u, lr=0.2, check_every=5, patience=100)
    assert r.loss <= r.start_loss
    assert r.improved and r.loss < r.start_loss, (r.start_loss, r.loss)
    full = api.compress_full(rgb, m, q, seed=7, refine=10)
    np.testing.assert_array_equal(api.decompress(full.data, m), full.reconstruction)


def test_zero_steps_is_the_unrefined_file(ckpt_dir, rgb):
    m = _model(ckpt_dir, "mean-scale")
    assert api.compress(rgb, m, refine=0) == api.compress(rgb, m)


class _Vandal(torch.optim.Optimizer):
    """A forced bad optimiser: every step throws the latents far away."""

    def __init__(self, params):
        super().__init__(params, {})

    @torch.no_grad()
    def step(self, closure=None):
        for g in self.param_groups:
            for p in g["params"]:
                p.add_(torch.randn_like(p) * 20)


def test_a_bad_optimiser_keeps_the_unrefined_latents(ckpt_dir, rgb):
    m = _model(ckpt_dir, "mean-scale")
    start = _start(m, rgb)
    r = refine.refine(m.net, to_tensor(rgb), start, m.lmbda, 20, optimizer=_Vandal, check_every=5, patience=100)
    assert not r.improved and r.loss == r.start_loss
    assert torch.equal(r.latents.y, start.y) and torch.equal(r.latents.z, start.z)


def test_the_api_keeps_the_unrefined_file_when_the_refined_one_is_worse(ckpt_dir, rgb, monkeypatch):
    """Even if the refiner claims success, a refined file with a higher real loss is dropped."""
    m = _model(ckpt_dir, "mean-scale")
    plain = api.compress(rgb, m)

    def liar(net, x, start, lmbda, steps, dither, **kw):
        bad = type(start)(start.y + 30 * torch.randn_like(start.y), start.z)
        return refine.RefineResult(bad, 1.0, 0.5, steps, True)
    monkeypatch.setattr(refine, "refine", liar)
    assert api.compress(rgb, m, refine=5) == plain


@pytest.mark.parametrize("bad", [-1, 10 ** 9, 2.5, True])
def test_api_refuses_bad_step_counts(ckpt_dir, rgb, bad):
    with pytest.raises(api.CodecError):
        api.compress(rgb, _model(ckpt_dir, "factorized"), refine=bad)


@pytest.mark.parametrize("bad", ["-1", "100001", "many", "1e9"])
def test_cli_refuses_bad_step_counts(env_ckpts, tmp_path, capsys, rgb, bad):
    from PIL import Image
    src = tmp_path / "a.png"
    Image.fromarray(rgb).save(src)
    out = tmp_path / "a.lic"
    assert main(["compress", str(src), "-o", str(out), "--refine", bad]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refine" in err[0]
    assert not out.exists()


def test_a_decoder_that_never_imported_refinement_decodes_a_refined_file(ckpt_dir, rgb, tmp_path):
    m = _model(ckpt_dir, "mean-scale")
    full = api.compress_full(rgb, m, refine=10)
    f = tmp_path / "r.lic"
    f.write_bytes(full.data)
    np.save(tmp_path / "expect.npy", full.reconstruction)
    code = (
        "import sys, numpy as np\n"
        "sys.modules['codec.refine'] = None   # any import of it raises ImportError\n"
        "from codec import api\n"
        f"m = api.load_model({str(ckpt_dir / 'mean-scale-q3.pt')!r}, device='cpu')\n"
        f"rgb = api.decompress(open({str(f)!r}, 'rb').read(), m)\n"
        f"assert np.array_equal(rgb, np.load({str(tmp_path / 'expect.npy')!r}))\n"
        "assert 'codec.refine' in sys.modules and sys.modules['codec.refine'] is None\n"
        "print('ok')\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_a_variable_rate_model_refines_at_a_fractional_quality(tmp_path, rgb):
    """The gains set under inference mode by compress_full are reused by the
    refiner's autograd (they once were inference tensors, which autograd refuses)."""
    from conftest import make_checkpoint
    from codec import container
    m = api.load_model(make_checkpoint("mean-scale-vr", tmp_path / "vr.pt", N=16, M=24), device="cpu")
    full = api.compress_full(rgb, m, quality=2.5, refine=10)
    assert container.unpack(full.data)[0].quality == 2.5
    np.testing.assert_array_equal(api.decompress(full.data, m), full.reconstruction)


class _GoodThenVandal(torch.optim.Optimizer):
    """Adam for the first 10 steps, then throws the latents away: the best
    latents were found early and must survive the later in-place updates."""

    def __init__(self, params):
        super().__init__(params, {})
        self.adam = torch.optim.Adam(self.param_groups[0]["params"], lr=0.2)
        self.n = 0

    @torch.no_grad()
    def step(self, closure=None):
        self.n += 1
        if self.n <= 10:
            return self.adam.step()
        for p in self.param_groups[0]["params"]:
            p.add_(torch.randn_like(p) * 20)


def test_the_returned_latents_are_the_best_ones_not_the_last(ckpt_dir, rgb):
    m = _model(ckpt_dir, "mean-scale")
    start = _start(m, rgb)
    r = refine.refine(m.net, to_tensor(rgb), start, m.lmbda, 30, optimizer=_GoodThenVandal, check_every=5,
                      patience=100)
    assert r.improved and r.steps == 30
    with torch.no_grad():
        again = float(refine.rd_loss(m.net, r.latents, refine.hard_quantizer, refine.no_dither, to_tensor(rgb),
                                     m.lmbda))
    assert again == r.loss < r.start_loss


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_the_fused_inverse_gdn_matches_autograd_and_is_put_back(ckpt_dir, name):
    m = _model(ckpt_dir, name)
    g_s = m.net.g_s
    before = list(g_s.children())
    y = torch.randn(1, m.net.M, 3, 4)
    frozen = [p for p in g_s.parameters()]
    for p in frozen:
        p.requires_grad_(False)
    try:
        def run():
            v = y.clone().requires_grad_(True)
            out = g_s(v)
            (out * out).sum().backward()
            return out.detach(), v.grad
        ref_out, ref_grad = run()
        with refine.fused_synthesis(m.net):
            assert sum(isinstance(c, refine.FrozenIGDN) for c in g_s.children()) == 3
            out, grad = run()
    finally:
        for p in frozen:
            p.requires_grad_(True)
    assert list(g_s.children()) == before
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-4, atol=1e-6 * float(ref_grad.abs().max()))


def test_the_fused_inverse_gdn_runs_under_bf16_autocast_close_to_fp32(ckpt_dir):
    """precision="bf16": the fused IGDN takes bf16 activations and gradients
    (its fp32 weights cast as autocast's conv casts them), within bf16's error."""
    m = _model(ckpt_dir, "mean-scale")
    y = torch.randn(1, m.net.M, 3, 4)
    frozen = list(m.net.g_s.parameters())
    for p in frozen:
        p.requires_grad_(False)
    try:
        def run(amp: bool):
            v = y.clone().requires_grad_(True)
            with refine.fused_synthesis(m.net), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
                out = m.net.g_s(v).float()
            (out * out).sum().backward()
            return out.detach(), v.grad
        ref_out, ref_grad = run(False)
        out, grad = run(True)
    finally:
        for p in frozen:
            p.requires_grad_(True)
    assert grad.dtype == torch.float32
    scale = float(ref_out.abs().max())
    assert float((out - ref_out).abs().max()) < 0.05 * scale
    cos = torch.nn.functional.cosine_similarity(grad.flatten(), ref_grad.flatten(), dim=0)
    assert float(cos) > 0.99


def test_bf16_refinement_lowers_the_loss_judged_in_fp32(ckpt_dir, rgb):
    m = _model(ckpt_dir, "mean-scale")
    start = _start(m, rgb)
    r = refine.refine(m.net, to_tensor(rgb), start, m.lmbda, 30, lr=0.2, check_every=5, patience=100,
                      precision="bf16")
    assert r.improved and r.loss < r.start_loss
    with torch.no_grad():   # the reported loss is the fp32 hard-rounded loss of the kept latents
        again = float(refine.rd_loss(m.net, r.latents, refine.hard_quantizer, refine.no_dither, to_tensor(rgb),
                                     m.lmbda))
    assert again == r.loss


def test_refine_refuses_an_unknown_precision(ckpt_dir, rgb):
    m = _model(ckpt_dir, "mean-scale")
    with pytest.raises(api.CodecError, match="precision"):
        refine.refine(m.net, to_tensor(rgb), _start(m, rgb), m.lmbda, 3, precision="fp8")
