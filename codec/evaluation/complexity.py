"""Computational complexity of a learned codec: multiply-accumulates per pixel
of the encoder and the decoder, and parameters of each side.

Counted by torch's own flop counter (``torch.utils.flop_counter``) over a real
``api.compress`` and ``api.decompress`` of one image (Kodak-sized by
default, 512 x 768): every convolution, transposed convolution and matrix
product the file's coding runs, GDN/IGDN included (they are 1x1
convolutions). MACs = FLOPs / 2 (the counter counts a multiply-add as two).
Not counted: element-wise operations (activations, rounding, clamps) and the
range coder, which are small beside the convolutions and not what papers
report as MACs. Parameters per side: every module but the other side's
transform (the encoder has no g_s, the decoder no g_a / h_a); h_s and the
entropy models count on both sides. (Not "the modules that ran a forward":
the integer h_s reads h_s's weights when it is built, not in a forward call.)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import api

KODAK_SHAPE = (512, 768)   # H, W of a landscape Kodak image
ENCODER_ONLY = ("g_a", "h_a")   # analysis transforms: the decoder does not have them
DECODER_ONLY = ("g_s",)         # the synthesis transform: the encoder does not run it


@dataclass(frozen=True)
class Complexity:
    """One model's figures for an H x W image."""

    height: int
    width: int
    params: int                 # all parameters of the network
    enc_params: int             # parameters of the modules the encoder ran
    dec_params: int
    enc_macs: int               # multiply-accumulates of one compress
    dec_macs: int

    @property
    def enc_macs_per_px(self) -> float:
        return self.enc_macs / (self.height * self.width)

    @property
    def dec_macs_per_px(self) -> float:
        return self.dec_macs / (self.height * self.width)


def test_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A deterministic smooth-plus-noise RGB image (MACs do not depend on content)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([np.sin(6 * xx + c) * np.cos(4 * yy - c) for c in range(3)], -1)
    img = 127.5 + 90 * base + rng.normal(0, 12, (height, width, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def side_params(net, exclude: tuple[str, ...]) -> int:
    """Parameters of every top-level module of ``net`` not named in ``exclude``."""
    return sum(p.numel() for name, m in net.named_children() if name not in exclude for p in m.parameters())


def _counted(net, fn) -> int:
    """Multiply-accumulates of ``fn()``."""
    from torch.utils.flop_counter import FlopCounterMode
    # the counter's module tracker hooks autograd, which fails on parameters
    # that require grad under the api's inference_mode: switch it off meanwhile
    grads = [(p, p.requires_grad) for p in net.parameters()]
    try:
        for p, _ in grads:
            p.requires_grad_(False)
        with FlopCounterMode(display=False) as counter:
            fn()
    finally:
        for p, g in grads:
            p.requires_grad_(g)
    return counter.get_total_flops() // 2


def measure(model, shape: tuple[int, int] = KODAK_SHAPE) -> Complexity:
    """Count one compress and one decompress of an H x W image with a loaded
    model (``api.LoadedModel``)."""
    rgb = test_image(*shape)
    box: dict[str, bytes] = {}
    enc_macs = _counted(model.net, lambda: box.setdefault("data", api.compress(rgb, model)))
    dec_macs = _counted(model.net, lambda: api.decompress(box["data"], model))
    total = sum(p.numel() for p in model.net.parameters())
    return Complexity(shape[0], shape[1], total, side_params(model.net, DECODER_ONLY),
                      side_params(model.net, ENCODER_ONLY), enc_macs, dec_macs)


@dataclass(frozen=True)
class Entry:
    """A row of the summary's complexity table: counts and the run's timings."""

    curve: str
    setting: str
    counts: Complexity
    enc_s: float            # mean wall seconds per image over the run's images (results.csv)
    dec_s: float


def markdown(entries: list[Entry]) -> tuple[str, ...]:
    """The summary.md section, or nothing without learned models."""
    if not entries:
        return ()
    c0 = entries[0].counts
    lines = ["## Complexity", "",
             f"Counted by torch.utils.flop_counter over one real compress and decompress of a "
             f"{c0.width}x{c0.height} image: convolutions and matrix products (GDN included), "
             "MAC = multiply-accumulate; element-wise operations and the range coder are not counted. "
             "Parameters per side: all but the other side's transform (h_s and the entropy models on both). Times: mean wall "
             "seconds per image of this run (results.csv), on this machine.", "",
             "| curve | setting | parameters | encoder parameters | decoder parameters | "
             "encoder kMAC/pixel | decoder kMAC/pixel | encode (s/img) | decode (s/img) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for e in entries:
        c = e.counts
        lines.append(f"| {e.curve} | {e.setting} | {c.params / 1e6:.2f} M | {c.enc_params / 1e6:.2f} M | "
                     f"{c.dec_params / 1e6:.2f} M | {c.enc_macs_per_px / 1e3:.1f} | {c.dec_macs_per_px / 1e3:.1f} | "
                     f"{e.enc_s:.3f} | {e.dec_s:.3f} |")
    return tuple(lines + [""])
