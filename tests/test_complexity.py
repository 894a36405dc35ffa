"""Complexity counts: torch's flop counter over a real compress and
decompress equals a hand count of the factorized model's convolutions."""
import pytest

from codec import api
from codec.evaluation import complexity
from conftest import make_checkpoint

N, M, H, W = 8, 12, 64, 96


def conv_macs(h_out: int, w_out: int, cin: int, cout: int, k: int) -> int:
    return h_out * w_out * cin * cout * k * k


def test_counts_equal_a_hand_count_of_the_factorized_model(tmp_path):
    path = make_checkpoint("factorized", tmp_path / "factorized-q3.pt", N=N, M=M)
    model = api.load_model(path, "factorized", 3, "cpu")
    c = complexity.measure(model, (H, W))
    # g_a: conv5x5/2 (3->N), GDN, conv5x5/2 (N->N), GDN, conv5x5/2 (N->N), GDN, conv5x5/2 (N->M);
    # a GDN is a 1x1 convolution N->N at its input's size
    enc = (conv_macs(H // 2, W // 2, 3, N, 5) + conv_macs(H // 2, W // 2, N, N, 1)
           + conv_macs(H // 4, W // 4, N, N, 5) + conv_macs(H // 4, W // 4, N, N, 1)
           + conv_macs(H // 8, W // 8, N, N, 5) + conv_macs(H // 8, W // 8, N, N, 1)
           + conv_macs(H // 16, W // 16, N, M, 5))
    # g_s: transposed convolutions cost (input pixels) x cin x cout x k², IGDN as GDN
    dec = (conv_macs(H // 16, W // 16, M, N, 5) + conv_macs(H // 8, W // 8, N, N, 1)
           + conv_macs(H // 8, W // 8, N, N, 5) + conv_macs(H // 4, W // 4, N, N, 1)
           + conv_macs(H // 4, W // 4, N, N, 5) + conv_macs(H // 2, W // 2, N, N, 1)
           + conv_macs(H // 2, W // 2, N, 3, 5))
    assert (c.enc_macs, c.dec_macs) == (enc, dec)
    assert c.enc_macs_per_px == pytest.approx(enc / (H * W))
    g_a = sum(p.numel() for p in model.net.g_a.parameters())
    g_s = sum(p.numel() for p in model.net.g_s.parameters())
    total = sum(p.numel() for p in model.net.parameters())
    assert (c.params, c.enc_params, c.dec_params) == (total, total - g_s, total - g_a)


def test_counting_leaves_the_model_as_it_was(tmp_path):
    path = make_checkpoint("mean-scale", tmp_path / "mean-scale-q3.pt", N=8, M=12)
    model = api.load_model(path, "mean-scale", 3, "cpu")
    before = [p.requires_grad for p in model.net.parameters()]
    c = complexity.measure(model, (64, 64))
    assert [p.requires_grad for p in model.net.parameters()] == before
    assert c.enc_macs > 0 and c.dec_macs > 0 and c.enc_params < c.params
    lines = complexity.markdown([complexity.Entry("mean-scale", "quality 3", c, 0.5, 0.25)])
    assert lines[0] == "## Complexity" and "| mean-scale | quality 3 |" in lines[-2]
