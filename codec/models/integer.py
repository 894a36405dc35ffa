"""Integer-valued hyper-synthesis: entropy parameters that are the same on every machine.

Why: the range decoder needs the encoder's entropy parameters bit for bit.
A float32 h_s gives last-bit differences between CPU kernels (SSE4.1, AVX2,
AVX-512, oneDNN on or off, thread counts) and devices, and decoding then fails.
Following Balle, Johnston & Minnen, "Integer networks for data compression
with latent-variable models" (ICLR 2019), every operation here is exact, so
the result cannot depend on summation order or kernel choice.

Conversion (no new weights; derived from the trained float h_s by exact
operations, once, when a model is loaded):

* weights: per output channel c, W_c = round(w_c * 2^s_c), an integer with
  |W_c| <= 2^15 - 1 (s_c the largest shift that keeps it there and keeps the
  bound below);
* biases: B_c = round(b_c * 2^(F + s_c)), F = 12 fractional bits;
* activations: integers a = value * 2^F, clipped to |a| <= A = 2^24 - 1;
* a layer: acc = W * a + B (convolution as float64 matmuls over im2col /
  col2im), then v = floor((acc + 2^(s_c - 1)) / 2^s_c) in int64: the
  rounding division back to 2^F;
* ReLU: max(v, 0); LeakyReLU with slope 1/d (0.01 -> d = 100):
  v if v >= 0 else floor((v + d/2) / d), i.e. v/d rounded; then the clip.

Exactness proof. Every value entering a float64 sum is an integer: the
products W*a are integers with |W*a| <= 2^15 * 2^24 < 2^53, so they are
exact, and any partial sum -- in any order, any grouping, with or without
fused multiply-add, split over threads or bands of rows -- is the sum of a
subset of the terms {W_i a_i} and B_c, so its magnitude is at most

    bound_c = A * sum_i |W_c,i| + |B_c|.

When bound_c < 2^53 every partial sum is an integer representable in float64,
so every addition is exact and the result is the true integer sum, whatever
the BLAS, oneDNN path, thread count or device. ``IntegerLayer.build`` chooses
s_c so that bound_c < 2^53 holds and checks it (raising otherwise); the
shipped mean-scale model's largest bound is reported by ``max_bound``. The
int64 steps (shift, division, clip) are exact by definition.

The convolutions never go through torch's conv kernels (which may pick
Winograd or FFT algorithms whose intermediate values are not integers): a
convolution is unfold + matmul, a transposed convolution matmul + fold, both
in bands of rows so memory stays bounded on large images.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

FRAC_BITS = 12                    # activations are integers at 2^-12 resolution
ACT_MAX = (1 << 24) - 1           # |activation| bound, integer units
WEIGHT_MAX = (1 << 15) - 1        # |integer weight| bound
EXACT_LIMIT = 1 << 53             # float64 represents every integer below this
_MAX_SHIFT = 40
_BAND_ELEMENTS = 1 << 24          # im2col elements per band (128 MiB in float64)


class Arithmetic(enum.IntEnum):
    """How a file's probabilities were computed; the byte stored in its header.

    INTEGER is the portable rule: hyperprior families compute their entropy
    parameters with this module; a factorized latent coded with dither reads
    the frozen CDF grid (codec.entropy; format version 4 on, before it such
    files always used the float rule). FLOAT: float32 h_s, or the float32
    density network for dithered factorized latents, portable only between
    machines with the same kernels."""

    FLOAT = 0      # float32: portable only between machines with the same kernels
    INTEGER = 1    # exact / frozen: identical on every machine


@dataclass(frozen=True)
class IntegerLayer:
    """One exact convolution: integer weights/biases held in float64.

    weight: (C_out, C_in*k*k) for a convolution, (C_out*k*k, C_in) for a
    transposed one; bias: (C_out,) at 2^(F + shift); shift: (C_out,) int64.
    """

    weight: Tensor
    bias: Tensor
    shift: Tensor
    transposed: bool
    kernel: int
    stride: int
    padding: int
    out_channels: int
    bound: int                     # max_c bound_c, checked < 2^53

    @classmethod
    def build(cls, m: nn.Conv2d | nn.ConvTranspose2d) -> "IntegerLayer":
        transposed = isinstance(m, nn.ConvTranspose2d)
        k, s, p = m.kernel_size[0], m.stride[0], m.padding[0]
        if m.kernel_size[0] != m.kernel_size[1] or m.stride[0] != m.stride[1] or m.dilation != (1, 1):
            raise ValueError("integer layers need square kernels, equal strides, no dilation")
        if transposed and m.output_padding[0] != s - 1:
            raise ValueError("transposed convolutions must have output_padding = stride - 1")
        w = m.weight.detach().double().cpu().numpy()
        w = np.moveaxis(w, 1, 0) if transposed else w                  # (C_out, C_in, k, k)
        b = m.bias.detach().double().cpu().numpy() if m.bias is not None else np.zeros(w.shape[0])
        c_out = w.shape[0]
        flat = w.reshape(c_out, -1)
        shifts, W, B, bounds = [], np.zeros_like(flat), np.zeros(c_out), []
        for c in range(c_out):
            peak = float(np.abs(flat[c]).max())
            sh = _MAX_SHIFT if peak == 0 else min(_MAX_SHIFT, math.floor(math.log2(WEIGHT_MAX / peak)))
            while True:
                Wc = np.round(flat[c] * 2.0 ** sh)
                Bc = float(np.round(b[c] * 2.0 ** (FRAC_BITS + sh)))
                bound = ACT_MAX * int(np.abs(Wc).astype(np.int64).sum()) + abs(int(Bc))
                if bound < EXACT_LIMIT and np.abs(Wc).max() <= WEIGHT_MAX:
                    break
                sh -= 1
                if sh < 1:
                    raise ValueError(f"channel {c}: no weight shift keeps partial sums below 2^53")
            shifts.append(sh)
            W[c], B[c] = Wc, Bc
            bounds.append(bound)
        weight = torch.from_numpy(W)
        if transposed:   # (C_out, C_in, k, k) -> (C_out*k*k, C_in) for matmul + fold
            weight = weight.reshape(c_out, -1, k, k).permute(0, 2, 3, 1).reshape(c_out * k * k, -1)
        return cls(weight.contiguous(), torch.from_numpy(B), torch.tensor(shifts, dtype=torch.int64),
                   transposed, k, s, p, c_out, max(bounds))

    # --- exact evaluation ----------------------------------------------------------
    def accumulate(self, a: Tensor) -> Tensor:
        """acc = W * a + B for integer-valued float64 a (1, C_in, H, W): exact integers."""
        acc = self._transposed(a) if self.transposed else self._conv(a)
        return acc + self.bias.view(1, -1, 1, 1)

    def __call__(self, a: Tensor) -> Tensor:
        """Integer activations (float64) -> int64 at 2^F: the rounding division by 2^s_c."""
        acc = self.accumulate(a).to(torch.int64)
        sh = self.shift.view(1, -1, 1, 1)
        return torch.bitwise_right_shift(acc + torch.bitwise_left_shift(torch.ones_like(sh), sh - 1), sh)

    def _conv(self, a: Tensor) -> Tensor:
        k, s, p = self.kernel, self.stride, self.padding
        a = F.pad(a, (p, p, p, p))
        H_out = (a.shape[2] - k) // s + 1
        W_out = (a.shape[3] - k) // s + 1
        rows = max(1, _BAND_ELEMENTS // max(1, self.weight.shape[1] * W_out))
        out = []
        for r0 in range(0, H_out, rows):
            r1 = min(H_out, r0 + rows)
            band = a[:, :, r0 * s:(r1 - 1) * s + k]
            cols = F.unfold(band, k, stride=s)                                  # (1, C_in*k*k, n)
            out.append((self.weight @ cols[0]).view(1, self.out_channels, r1 - r0, W_out))
        return torch.cat(out, 2)

    def _transposed(self, a: Tensor) -> Tensor:
        k, s, p = self.kernel, self.stride, self.padding
        _, c_in, H, W = a.shape
        H_out, W_out = H * s, W * s                                   # output_padding = s - 1
        buf = a.new_zeros(1, self.out_channels, (H - 1) * s + k + s, W_out)
        rows = max(1, _BAND_ELEMENTS // max(1, self.weight.shape[0] * W))
        for i0 in range(0, H, rows):
            i1 = min(H, i0 + rows)
            cols = self.weight @ a[0, :, i0:i1].reshape(c_in, -1)      # (C_out*k*k, n)
            part = F.fold(cols[None], ((i1 - i0 - 1) * s + k, W_out), k, padding=(0, p), stride=s)
            buf[:, :, i0 * s:i0 * s + part.shape[2]] += part
        return buf[:, :, p:p + H_out]


@dataclass(frozen=True)
class IntegerActivation:
    """ReLU (divisor 0) or LeakyReLU with slope 1/divisor, on int64 values."""

    divisor: int

    @classmethod
    def build(cls, m: nn.Module) -> "IntegerActivation":
        if isinstance(m, nn.ReLU):
            return cls(0)
        d = round(1 / m.negative_slope)
        if abs(m.negative_slope * d - 1) > 1e-9:
            raise ValueError(f"LeakyReLU slope {m.negative_slope} is not 1/integer")
        return cls(d)

    def __call__(self, v: Tensor) -> Tensor:
        if self.divisor == 0:
            return v.clamp_min(0)
        neg = torch.div(v + self.divisor // 2, self.divisor, rounding_mode="floor")
        return torch.where(v >= 0, v, neg)


class IntegerHyperSynthesis:
    """h_s as exact integer operations: z_hat (1, N, h, w) float32 -> int64 at 2^-F.

    Built from a trained nn.Sequential of Conv2d / ConvTranspose2d / ReLU /
    LeakyReLU; it runs on the device of its input (CPU by the API's policy),
    and gives the same integers everywhere.
    """

    def __init__(self, h_s: nn.Sequential):
        self.steps: list[IntegerLayer | IntegerActivation] = []
        for m in h_s:
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                self.steps.append(IntegerLayer.build(m))
            elif isinstance(m, (nn.ReLU, nn.LeakyReLU)):
                self.steps.append(IntegerActivation.build(m))
            else:
                raise ValueError(f"no integer form for {type(m).__name__}")

    @property
    def max_bound(self) -> int:
        """Largest bound on any partial sum of any layer (< 2^53 by construction)."""
        return max(s.bound for s in self.steps if isinstance(s, IntegerLayer))

    def __call__(self, z_hat: Tensor) -> Tensor:
        a = torch.round(z_hat.double() * (1 << FRAC_BITS)).clamp(-ACT_MAX, ACT_MAX)
        v = a.to(torch.int64)
        for step in self.steps:
            if isinstance(step, IntegerLayer):
                dev_step = _on(step, a.device)
                v = dev_step(a)
            else:
                v = step(v)
            v = v.clamp(-ACT_MAX, ACT_MAX)
            a = v.double()
        return v


def _on(layer: IntegerLayer, device: torch.device) -> IntegerLayer:
    if layer.weight.device == device:
        return layer
    from dataclasses import replace
    return replace(layer, weight=layer.weight.to(device), bias=layer.bias.to(device),
                   shift=layer.shift.to(device))


def to_real(v: Tensor) -> Tensor:
    """Integer outputs at 2^-F as exact float32 values (|v| < 2^24: 24 bits fit)."""
    return (v.to(torch.float64) / (1 << FRAC_BITS)).float()
