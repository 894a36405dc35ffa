"""What every model shares: typed stage outputs and the frozen coding state.

A model states its stages (analysis, hyper analysis, entropy parameters,
synthesis); ``forward`` (training), ``compress`` and ``decompress`` are short
compositions of them, written in the model's own file.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import Tensor, nn

from ..container import Section

# dither(stream, shape) -> Tensor for universal quantization, or None (rounding)
DitherFn = Callable[[int, tuple[int, ...]], "Tensor | None"]


def no_dither(stream: int, shape: tuple[int, ...]) -> None:
    return None


class RateDistortionOutput(NamedTuple):
    """Training forward: reconstruction and per-latent likelihoods (fp32)."""

    x_hat: Tensor                      # (B, 3, H, W)
    likelihoods: dict[str, Tensor]     # name -> same shape as the latent


class Coded(NamedTuple):
    """Encoder result: the sections to store and what the decoder will rebuild."""

    sections: list[Section]
    y_hat: Tensor      # (1, M, h, w) dequantized latent; synthesis(y_hat) equals decompress()
    bits: float        # -log2 P of all coded symbols under the coding models


class CodecModel(nn.Module):
    """Base: stride, frozen-table plumbing; subclasses define the stages."""

    stride: int = 16
    latent_names: tuple[str, ...] = ("y",)

    def __init__(self, N: int, M: int):
        super().__init__()
        self.N, self.M = N, M

    # --- frozen coding state -------------------------------------------------
    def freeze(self) -> dict[str, dict[str, Tensor]]:
        """Build the coding tables from the trained densities (once, after training)."""
        tables = {"entropy_bottleneck": self.entropy_bottleneck.tables().to_dict()}
        self.load_tables(tables)
        return tables

    def load_tables(self, tables: dict[str, dict[str, Tensor]]) -> None:
        from ..entropy import FactorizedTables, FrozenFactorized
        t = FactorizedTables.from_dict(tables["entropy_bottleneck"])
        self.coder_factorized = FrozenFactorized(t, self.entropy_bottleneck)

    @property
    def frozen(self) -> bool:
        return hasattr(self, "coder_factorized")

    def aux_loss(self) -> Tensor:
        return self.entropy_bottleneck.aux_loss()

    def synthesis(self, y_hat: Tensor) -> Tensor:
        return self.g_s(y_hat.to(next(self.g_s.parameters()).device))

    def analysis(self, x: Tensor) -> Tensor:
        return self.g_a(x)


def to_cpu_f32(t: Tensor) -> Tensor:
    """Latents leave the transforms as contiguous NCHW fp32 on the CPU.

    Contiguity matters: the decoder rebuilds latents from the range coder in
    NCHW, and h_s must see the same memory layout on both sides, or oneDNN may
    pick another convolution algorithm and the entropy parameters differ in
    the last bits (observed with channels_last inputs: decode fails)."""
    return t.detach().float().cpu().contiguous()


def rate_bits(likelihoods: dict[str, Tensor]) -> Tensor:
    """Total -log2 likelihood over all latents (fp32 scalar)."""
    return sum((-torch.log2(p)).sum() for p in likelihoods.values())
