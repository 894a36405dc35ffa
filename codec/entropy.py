"""Entropy models, in two states.

Trainable (``FactorizedDensity``, ``GaussianDensity``): compressai's deep
factorized density (Balle et al. 2018, appendix 6.1) and Gaussian conditional,
giving likelihoods of noisy latents for the rate term of the loss. All
likelihood math runs in float32, also under autocast.

Frozen (``FrozenFactorized``, ``FrozenGaussian``): what the range coder needs,
built once after training and stored with the weights (``FactorizedTables``),
so encoder and decoder can never derive different tables.

Coding rules (both sides, documented here once):

* Factorized latent, rounding: per channel c, symbols k = round(y - m_c) with
  m_c the learned median; channel c is coded with its frozen pmf over
  [start_c, start_c + len_c). The alphabet of a section is widened to
  [lo, hi] = [min(k, start), max(k, end)], both stored in the section, and
  outside its table a channel's probability is 0, which constriction raises to
  its smallest nonzero probability (2**-24). So a value outside the table costs
  about 24 bits but is coded exactly: nothing is ever clipped.
* Factorized latent, universal quantization: per element, the learned CDF at
  the shifted bin edges, P(k | u) = F(m + k + u + 1/2) - F(m + k + u - 1/2)
  for k in [lo, hi], normalized over the alphabet. Two rules, named by the
  file header's arithmetic byte:
  - portable (arithmetic 1, format version >= 4): F is the frozen CDF grid of
    the tables (``FactorizedTables.grid``: CDF_GRID cells per unit), read by
    float64 linear interpolation; every operation is an elementwise IEEE
    operation or a sequential sum in numpy, so every machine computes the
    same rows and a file decodes bit-exactly anywhere;
  - float (arithmetic 0, and every factorized file before version 4): the
    density network evaluated in float32 on the CPU, which gives other bits
    on other CPU kernels (measured: an Intel AVX-512 encode failed to decode
    on an AMD AVX2 machine).
* Conditional latent: k = round(y - mu [- u]) over [lo, hi] = [min k, max k]
  of the section, coded with a quantized Gaussian of standard deviation
  max(sigma, 0.11) and mean 0 (rounding) or -u (universal quantization).
  That is the float-arithmetic rule; integer-arithmetic files code y with the
  frozen integer pmfs of ``codec.scaletable`` instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from .compressai_parts import EntropyBottleneck, GaussianConditional
from torch import Tensor

from . import rangecoder
from .container import Section
from .errors import CodecError, CorruptFile
from .limits import MAX_ALPHABET, UQ_EXTRA_SYMBOLS, payload_bounds
from .quantize import dequantize, quantize

SCALE_BOUND = 0.11      # lower bound on Gaussian scales, as in training
LIKELIHOOD_BOUND = 1e-9  # lower bound on training likelihoods
#: cells per unit of the frozen CDF grid of a dithered factorized latent: linear
#: interpolation over 1/16 is far below the coder's precision for these smooth
#: densities (its rate cost: tests/test_portable_uq.py)
CDF_GRID = 16


class FactorizedDensity(EntropyBottleneck):
    """Trainable deep factorized density, one per channel (compressai layer)."""

    def likelihood(self, y_tilde: Tensor) -> Tensor:
        """Likelihood of noisy latents, (B, C, H, W) -> (B, C, H, W) in fp32."""
        B, C, H, W = y_tilde.shape
        v = y_tilde.float().permute(1, 0, 2, 3).reshape(C, 1, -1)
        with torch.autocast(v.device.type, enabled=False):
            p = self.bin_probability(v)
        p = p.clamp_min(LIKELIHOOD_BOUND)
        return p.reshape(C, B, H, W).permute(1, 0, 2, 3)

    def bin_probability(self, v: Tensor) -> Tensor:
        """P(bin [v - 1/2, v + 1/2]) per channel; v is (C, 1, n), fp32."""
        return self.interval_probability(v - 0.5, v + 0.5)

    def interval_probability(self, a: Tensor, b: Tensor) -> Tensor:
        """P([a, b]) per channel; a, b are (C, 1, n), fp32."""
        lower = self._logits_cumulative(a, stop_gradient=False)
        upper = self._logits_cumulative(b, stop_gradient=False)
        # Evaluate on the side of the median where the sigmoid is not
        # saturated, as tensorflow-compression does, for accuracy in the tails.
        sign = -torch.sign(lower + upper).detach()
        return torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))

    def medians(self) -> Tensor:
        """Learned medians m_c, shape (C,)."""
        return self.quantiles[:, 0, 1].detach()

    def aux_loss(self) -> Tensor:
        """Loss that moves the stored quantiles to the tail-mass targets."""
        return self.loss()

    @torch.no_grad()
    def tables(self, grid: bool = False) -> "FactorizedTables":
        """Freeze: pmf of k = round(y - m_c) over the quantile range, per channel;
        with ``grid`` also the CDF grid that dithered coding reads (see
        ``FactorizedTables``)."""
        q = self.quantiles[:, 0, :].detach().float().cpu()
        m = q[:, 1]
        start = -torch.ceil(m - q[:, 0]).clamp_min(0).to(torch.int64)
        end = torch.ceil(q[:, 2] - m).clamp_min(0).to(torch.int64)
        length = end - start + 1
        L = int(length.max())
        k = torch.arange(L)[None, :] + start[:, None]                # (C, L)
        p = self.bin_probability((k + m[:, None]).unsqueeze(1).to(self.quantiles.device))
        p = p[:, 0, :].cpu().double()
        p = torch.where(torch.arange(L)[None, :] < length[:, None], p, torch.zeros_like(p))
        cells = None
        if grid:
            # cell j of channel c spans m_c + start_c - 1 + [j, j + 1] / CDF_GRID
            J = CDF_GRID * (L + 2)
            a = (start[:, None] - 1).double() + torch.arange(J, dtype=torch.float64)[None, :] / CDF_GRID
            a = (a + m[:, None].double()).float().unsqueeze(1).to(self.quantiles.device)
            cells = self.interval_probability(a, a + 1.0 / CDF_GRID)[:, 0, :].cpu().numpy()
        return FactorizedTables(medians=m.numpy().astype(np.float32),
                                start=start.numpy().astype(np.int32),
                                pmf=(p / p.sum(1, keepdim=True)).numpy().astype(np.float32),
                                grid=None if cells is None else np.maximum(cells, 0).astype(np.float32))


class GaussianDensity(GaussianConditional):
    """Trainable Gaussian conditional (compressai layer), scales bounded at 0.11."""

    def __init__(self) -> None:
        super().__init__(None, scale_bound=SCALE_BOUND)

    def likelihood(self, y_tilde: Tensor, scales: Tensor, means: Tensor | None) -> Tensor:
        with torch.autocast(y_tilde.device.type, enabled=False):
            p = self._likelihood(y_tilde.float(), scales.float(),
                                 None if means is None else means.float())
        return p.clamp_min(LIKELIHOOD_BOUND)


@dataclass(frozen=True)
class FactorizedTables:
    """Frozen coding tables of a factorized latent with C channels.

    medians: (C,) float32, the centres m_c.
    start:   (C,) int32, first symbol of each row (k relative to m_c).
    pmf:     (C, L) float32, rows sum to 1, zero-padded past each channel's end.
    grid:    (C, CDF_GRID * (L + 2)) float32 or None: the probability of each
             1/CDF_GRID cell of y - m_c from start_c - 1 upwards (the learned
             density, frozen), for latents coded with dither; present only
             for the densities a model dithers (``CodecModel.dithered_densities``).
             The CDF at the cell edges is its sequential float64 cumulative sum.
    """

    medians: np.ndarray
    start: np.ndarray
    pmf: np.ndarray
    grid: np.ndarray | None = None

    def to_dict(self) -> dict[str, Tensor]:
        keys = ("medians", "start", "pmf") + (("grid",) if self.grid is not None else ())
        return {k: torch.from_numpy(np.ascontiguousarray(getattr(self, k))) for k in keys}

    @classmethod
    def from_dict(cls, d: dict[str, Tensor]) -> "FactorizedTables":
        return cls(**{k: d[k].numpy() for k in ("medians", "start", "pmf")},
                   grid=d["grid"].numpy() if "grid" in d else None)

    def cdf_grid(self) -> np.ndarray | None:
        """(C, J + 1) float64: the CDF at every cell edge, 0 at the first (a
        sequential sum, the same on every machine); None without a grid."""
        if self.grid is None:
            return None
        g = self.grid.astype(np.float64)
        return np.concatenate([np.zeros((g.shape[0], 1)), np.cumsum(g, axis=1)], axis=1)


@dataclass(frozen=True)
class FrozenTables:
    """Every frozen table of a model: density child name -> its tables.

    Stored in checkpoints as ``to_dict()`` (plain tensors, loadable with
    ``weights_only``); the weights digest covers exactly that dict.
    """

    factorized: dict[str, FactorizedTables]

    def to_dict(self) -> dict[str, dict[str, Tensor]]:
        return {name: t.to_dict() for name, t in self.factorized.items()}

    @classmethod
    def from_dict(cls, d: dict[str, dict[str, Tensor]]) -> "FrozenTables":
        return cls({name: FactorizedTables.from_dict(t) for name, t in d.items()})


class CodedLatent(NamedTuple):
    """Encoder output for one latent: reconstruction, bytes, model bits."""

    y_hat: Tensor        # (1, C, H, W) float32, exactly what the decoder rebuilds
    section: Section
    bits: float          # -log2 P(symbols) under the coding model


def _alphabet(lo: int, hi: int) -> tuple[int, int]:
    """Encoder side: the section alphabet, at least two symbols wide."""
    hi = max(hi, lo + 1)
    if hi - lo + 1 > MAX_ALPHABET:
        raise CodecError(f"latent values span {hi - lo + 1} symbols (limit {MAX_ALPHABET}); "
                         "the input is far outside what the model was trained on")
    return lo, hi


def _check_section(section: Section, shape: tuple[int, ...]) -> None:
    """Decoder side: shape, alphabet and payload length of a section are
    plausible (``limits.payload_bounds``) before anything is allocated."""
    if tuple(section.shape) != tuple(shape[1:]):
        raise CorruptFile(f"latent shape {section.shape} does not match the model's {tuple(shape[1:])}")
    if not section.lo < section.hi or section.hi - section.lo + 1 > MAX_ALPHABET:
        raise CorruptFile(f"section alphabet [{section.lo}, {section.hi}] is invalid")
    check_payload(section)


def check_payload(section: Section) -> None:
    """A payload too short or too long for its symbol count is not our encoder's."""
    c, h, w = section.shape
    lo, hi = payload_bounds(c * h * w, section.hi - section.lo + 1)
    if not lo <= len(section.payload) <= hi:
        raise CorruptFile(f"section of {c * h * w} symbols over [{section.lo}, {section.hi}] has a "
                          f"{len(section.payload)}-byte payload (plausible: {lo}..{hi})")


def uq_alphabet_limit(start: np.ndarray, end: np.ndarray) -> int:
    """Widest alphabet a factorized latent may use under universal quantization.

    Its rows are evaluated per symbol and per alphabet entry (cost n x width),
    so the width is bounded by the table span plus ``UQ_EXTRA_SYMBOLS``."""
    return int(end.max() - start.min() + 1) + UQ_EXTRA_SYMBOLS


class FrozenFactorized:
    """Coding state of a factorized latent: frozen tables (+ density for UQ)."""

    def __init__(self, tables: FactorizedTables, density: FactorizedDensity):
        self.t = tables
        self.density = density
        self.end = tables.start + (tables.pmf > 0).sum(1).astype(np.int32) - 1
        self.cdf = tables.cdf_grid()

    @property
    def has_grid(self) -> bool:
        """True when dithered coding can use the frozen CDF grid (every machine alike)."""
        return self.cdf is not None

    def _centre(self) -> Tensor:
        return torch.from_numpy(self.t.medians).view(1, -1, 1, 1)

    def centre(self) -> Tensor:
        """The frozen medians m_c the coder rounds around, (1, C, 1, 1) float32 (a copy)."""
        return self._centre().clone()

    def _rows(self, lo: int, hi: int, offset: Tensor | None, portable: bool = False):
        """Normalized float64 probability rows over [lo, hi], one per channel
        (a generator: only one channel's rows exist in float64 at a time).

        Rounding: the frozen pmf row (L,) placed in the widened alphabet.
        Universal quantization: per element, (n, L) with the dither shifting
        the bin edges of the learned CDF: read from the frozen grid when
        ``portable``, else evaluated by the density network in float32.
        """
        C, L = self.t.pmf.shape
        width = hi - lo + 1
        if offset is None:
            rows = np.zeros((C, width), dtype=np.float64)
            for c in range(C):
                a = int(self.t.start[c]) - lo
                rows[c, a:a + L] = self.t.pmf[c, : width - a]
            yield from rows / rows.sum(1, keepdims=True)
            return
        if width > uq_alphabet_limit(self.t.start, self.end):
            raise CorruptFile(f"symbol range of {width} is too wide for universal quantization "
                              f"(limit {uq_alphabet_limit(self.t.start, self.end)})")
        if portable:
            yield from self._grid_rows(lo, hi, offset)
            return
        alphabet = torch.arange(lo, hi + 1, dtype=torch.float32)
        u = offset.reshape(C, -1, 1).float()
        m = torch.from_numpy(self.t.medians).view(C, 1, 1)
        n = u.shape[1]
        chunk = max(1, (1 << 22) // (C * width))
        parts = []
        with torch.no_grad():
            for i in range(0, n, chunk):
                v = u[:, i:i + chunk] + alphabet.view(1, 1, -1) + m          # (C, n_i, L)
                p = self.density.bin_probability(v.reshape(C, 1, -1))
                parts.append(p.reshape(v.shape))      # float32: half the memory, exact
        p = torch.cat(parts, 1).numpy()
        for c in range(C):
            row = p[c].astype(np.float64)
            yield row / row.sum(-1, keepdims=True)

    def _grid_rows(self, lo: int, hi: int, offset: Tensor):
        """Portable rows: P(k | u) = (F(e_k+1) - F(e_k)) / (F(e_last) - F(e_0))
        with e_j = lo - 1/2 + j + u the shifted bin edges relative to m_c and
        F the frozen CDF grid, linearly interpolated (clamped at its ends:
        symbols outside it get probability 0, raised by the coder to its
        smallest). Only float64 elementwise operations: identical everywhere."""
        if self.cdf is None:
            raise CodecError("this checkpoint has no frozen CDF grid for dithered coding "
                             "(re-export it with this version, or code with float arithmetic)")
        C = self.cdf.shape[0]
        J = self.cdf.shape[1] - 1                                        # cells per channel
        u = offset.reshape(C, -1).double().numpy()                       # (C, n), exact float32 values
        edges = np.arange(lo, hi + 2, dtype=np.float64) - 0.5            # (W + 1,)
        for c in range(C):
            s = ((edges[None, :] + u[c][:, None]) - float(self.t.start[c] - 1)) * CDF_GRID
            s = np.clip(s, 0.0, float(J))
            i = np.minimum(np.floor(s), J - 1).astype(np.int64)
            F = self.cdf[c]
            f = F[i] + (s - i) * (F[i + 1] - F[i])                       # (n, W + 1)
            total = f[:, -1:] - f[:, :1]
            yield np.diff(f, axis=1) / total

    def encode(self, y: Tensor, offset: Tensor | None, portable: bool = False) -> CodedLatent:
        k = quantize(y.float().cpu(), self._centre(), offset)
        ki = k.to(torch.int64)
        lo, hi = _alphabet(int(min(ki.min(), self.t.start.min())), int(max(ki.max(), self.end.max())))
        if offset is not None and hi - lo + 1 > uq_alphabet_limit(self.t.start, self.end):
            raise CodecError(f"latent values span {hi - lo + 1} symbols, more than universal "
                             f"quantization allows for this model; use rounding")
        enc, bits = rangecoder.Encoder(), 0.0
        for c, row in enumerate(self._rows(lo, hi, offset, portable)):
            s = (ki[0, c].reshape(-1) - lo).numpy().astype(np.int32)
            enc.categorical(s, row)
            p = row[s] if row.ndim == 1 else row[np.arange(len(s)), s]
            bits -= float(np.log2(np.maximum(p, 2.0 ** -24)).sum())
        section = Section(tuple(y.shape[1:]), lo, hi, enc.finish())
        return CodedLatent(dequantize(k, self._centre(), offset), section, bits)

    def decode(self, section: Section, shape: tuple[int, ...], offset: Tensor | None,
               portable: bool = False) -> Tensor:
        _check_section(section, shape)
        if section.lo > self.t.start.min() or section.hi < self.end.max():
            raise CorruptFile("section alphabet does not cover the model's tables")
        dec = rangecoder.Decoder(section.payload)
        n = shape[2] * shape[3]
        rows = self._rows(section.lo, section.hi, offset, portable)
        k = np.stack([dec.categorical(n, row) for row in rows]).astype(np.int64) + section.lo
        dec.check_exhausted()
        k = torch.from_numpy(k.astype(np.float32)).reshape(shape)
        return dequantize(k, self._centre(), offset)


class FrozenGaussian:
    """Coding state of a conditional latent: quantized Gaussians per symbol."""

    def encode(self, y: Tensor, scales: Tensor, means: Tensor, offset: Tensor | None) -> CodedLatent:
        k = quantize(y.float().cpu(), means, offset)
        ki = k.to(torch.int64)
        lo, hi = _alphabet(int(ki.min()), int(ki.max()))
        mu, sigma = self._params(scales, offset)
        enc = rangecoder.Encoder()
        enc.gaussian(ki.reshape(-1).numpy(), mu, sigma, lo, hi)
        bits = self._bits(k, scales, offset)
        section = Section(tuple(y.shape[1:]), lo, hi, enc.finish())
        return CodedLatent(dequantize(k, means, offset), section, bits)

    def decode(self, section: Section, scales: Tensor, means: Tensor, offset: Tensor | None) -> Tensor:
        _check_section(section, tuple(means.shape))
        mu, sigma = self._params(scales, offset)
        dec = rangecoder.Decoder(section.payload)
        k = dec.gaussian(mu, sigma, section.lo, section.hi)
        dec.check_exhausted()
        k = torch.from_numpy(k.astype(np.float32)).reshape(means.shape)
        return dequantize(k, means, offset)

    @staticmethod
    def _params(scales: Tensor, offset: Tensor | None) -> tuple[np.ndarray, np.ndarray]:
        sigma = scales.clamp_min(SCALE_BOUND).reshape(-1).double().numpy()
        mu = np.zeros_like(sigma) if offset is None else -offset.reshape(-1).double().numpy()
        return mu, sigma

    @staticmethod
    def _bits(k: Tensor, scales: Tensor, offset: Tensor | None) -> float:
        """-log2 P(k) under the (unclipped) quantized Gaussian, float64."""
        s = scales.double().clamp_min(SCALE_BOUND)
        c = k.double() + (0 if offset is None else offset.double())
        n = torch.distributions.Normal(0.0, 1.0)
        v = -c.abs()  # symmetric: integrate on the lower tail for accuracy
        p = n.cdf((v + 0.5) / s) - n.cdf((v - 0.5) / s)
        return float(-torch.log2(p.clamp_min(2.0 ** -24)).sum())
