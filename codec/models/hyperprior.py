"""Scale hyperprior: Balle, Minnen, Singh, Hwang, Johnston, "Variational image
compression with a scale hyperprior" (ICLR 2018).

    x -> g_a -> y ---------------> Q -> y_hat -> g_s -> x_hat
               |                          ^
               h_a -> z -> Q -> z_hat -> h_s -> sigma  (N(0, sigma) per element)
                             |
                     factorized density p(z_hat)

z keeps rounding under every quantizer: it is a few percent of the rate and
its tables stay frozen; universal quantization applies to y.

The entropy parameters of y come in two arithmetics, chosen per file: float32
h_s (``entropy_parameters``, used in training and by format-1 files) or the
exact integer form of the same weights (``exact_parameters``, see
``codec.models.integer``), which decodes identically on every machine.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ..entropy import FactorizedDensity, FrozenGaussian, GaussianDensity, _check_section
from ..errors import CorruptFile
from ..quantize import TrainingQuantizer, add_noise
from ..scaletable import IndexedGaussian, ScaleTable
from ..scaletable import load as load_scale_table
from .base import (CodecModel, Coded, DitherFn, Geometry, LatentQuantizer, Latents, RateDistortionOutput,
                   TransformConfig, decode_float_file, no_dither, to_cpu_f32)
from .integer import Arithmetic, IntegerHyperSynthesis, to_real
from .transforms import AnalysisTransform, HyperAnalysis, HyperSynthesis, SynthesisTransform


class GaussianParams(NamedTuple):
    """Entropy parameters of y: (B, M, h, w) each, fp32 on the CPU when coding."""

    scales: Tensor
    means: Tensor


class IndexedParams(NamedTuple):
    """Exact entropy parameters of y, (1, M, h, w) each, on the CPU.

    index: int64 row of the frozen scale table; means: float32, exact
    (integers at 2^-12 from the integer network)."""

    index: Tensor
    means: Tensor


class ScaleHyperprior(CodecModel):
    latent_paths = {"z": ("g_a", "h_a"), "y": ("g_a",)}   # section order: z, then y
    cpu_parts = ("h_s", "entropy_bottleneck", "gaussian_conditional")

    def __init__(self, config: TransformConfig):
        super().__init__(config)
        N, M = config.N, config.M
        self.g_a = AnalysisTransform(N, M)
        self.g_s = SynthesisTransform(N, M)
        self.h_a = HyperAnalysis(N, M)
        self.h_s = HyperSynthesis(N, M)
        self.entropy_bottleneck = FactorizedDensity(N)
        self.gaussian_conditional = GaussianDensity()

    # --- stages ----------------------------------------------------------------
    def hyper_analysis(self, y: Tensor) -> Tensor:
        return self.h_a(torch.abs(y))

    def entropy_parameters(self, z_hat: Tensor) -> GaussianParams:
        """z_hat -> (sigma, mu); computed in fp32 wherever h_s lives, never autocast."""
        dev = next(self.h_s.parameters()).device
        with torch.autocast(dev.type, enabled=False):
            scales = self.h_s(z_hat.float().to(dev))
        return GaussianParams(scales, torch.zeros_like(scales))

    def exact_parameters(self, z_hat: Tensor) -> IndexedParams:
        """z_hat -> (scale index, mean) by the integer form of h_s: the same on every machine."""
        v_scale, v_mean = self._split(self.integer_h_s()(z_hat.float().cpu()))
        means = torch.zeros(v_scale.shape) if v_mean is None else to_real(v_mean)
        return IndexedParams(self.scale_table().index(v_scale), means)

    @staticmethod
    def _split(v: Tensor) -> tuple[Tensor, Tensor | None]:
        """Integer h_s output -> (scales, means or None), int64 at 2^-12."""
        return v, None

    def integer_h_s(self) -> IntegerHyperSynthesis:
        """The exact integer h_s, derived from the current float weights; rebuilt
        whenever they change (tensor version counters: training steps, loads)."""
        key = tuple((p.data_ptr(), p._version) for p in self.h_s.parameters())
        cached = getattr(self, "_integer_h_s", None)
        if cached is None or cached[0] != key:
            cached = self._integer_h_s = (key, IntegerHyperSynthesis(self.h_s))
        return cached[1]

    def scale_table(self) -> ScaleTable:
        return load_scale_table()

    # --- compositions -------------------------------------------------------------
    def forward(self, x: Tensor, quantizer: TrainingQuantizer = TrainingQuantizer.NOISE) -> RateDistortionOutput:
        """``quantizer`` applies to y around the predicted mean; z stays noisy."""
        y = self.analysis(x)
        z = self.hyper_analysis(y)
        z_tilde = add_noise(z.float())
        p = self.entropy_parameters(z_tilde)
        yq = quantizer(y.float(), p.means)
        return RateDistortionOutput(self.synthesis(yq.synthesis), {
            "y": self.gaussian_conditional.likelihood(yq.rate, p.scales, p.means),
            "z": self.entropy_bottleneck.likelihood(z_tilde)})

    def compress(self, x: Tensor, dither: DitherFn = no_dither,
                 arithmetic: Arithmetic = Arithmetic.INTEGER) -> Coded:
        return self.compress_latents(self.encode_latents(x), dither, arithmetic)

    def encode_latents(self, x: Tensor) -> Latents:
        y = self.analysis(x)
        z = to_cpu_f32(self.hyper_analysis(y))
        return Latents(to_cpu_f32(y), z)

    def compress_latents(self, latents: Latents, dither: DitherFn = no_dither,
                         arithmetic: Arithmetic = Arithmetic.INTEGER) -> Coded:
        y, z = latents.y, latents.z
        cz = self.coder("entropy_bottleneck").encode(z, None)
        u = dither(0, tuple(y.shape))
        if arithmetic == Arithmetic.INTEGER:
            q = self.exact_parameters(cz.y_hat)
            cy = IndexedGaussian(self.scale_table()).encode(y, q.index, q.means, u)
        else:
            p = self._cpu(self.entropy_parameters(cz.y_hat))
            cy = FrozenGaussian().encode(y, p.scales, p.means, u)
        return Coded([cz.section, cy.section], cy.y_hat, cz.bits + cy.bits)

    def latent_rd(self, latents: Latents, quantizer: LatentQuantizer,
                  dither: DitherFn = no_dither) -> RateDistortionOutput:
        """z around the frozen medians (no dither: z always rounds), then the float
        h_s on z_hat, then y around the predicted means with dither stream 0."""
        z_hat = quantizer(latents.z, self.coder("entropy_bottleneck").centre(), None)
        p = self.entropy_parameters(z_hat)
        y_hat = quantizer(latents.y, p.means, dither(0, tuple(latents.y.shape)))
        return RateDistortionOutput(self.synthesis(y_hat), {
            "y": self.gaussian_conditional.likelihood(y_hat, p.scales, p.means),
            "z": self.entropy_bottleneck.likelihood(z_hat)})

    def decompress(self, sections, g: Geometry, dither: DitherFn = no_dither,
                   arithmetic: Arithmetic = Arithmetic.INTEGER) -> Tensor:
        self.check_sections(sections, g)
        z_hat = self.coder("entropy_bottleneck").decode(sections[0], g.shape("z"), None)
        if arithmetic == Arithmetic.INTEGER:
            q = self.exact_parameters(z_hat)
            self._check_shape(q.means, g)
            y_hat = IndexedGaussian(self.scale_table()).decode(sections[1], q.index, q.means,
                                                               dither(0, tuple(q.means.shape)))
        else:
            p = self._cpu(self.entropy_parameters(z_hat))
            self._check_shape(p.means, g)
            y_hat = self._decode_float(sections[1], p, dither(0, tuple(p.means.shape)))
        return self.synthesis(y_hat)

    @staticmethod
    def _check_shape(means: Tensor, g: Geometry) -> None:
        if tuple(means.shape) != g.shape("y"):
            raise CorruptFile("latent shapes do not match the image size")

    @staticmethod
    def _decode_float(section, p: GaussianParams, u: Tensor | None) -> Tensor:
        """Float-arithmetic y: a CRC-valid section that will not decode means this
        machine's float h_s differs from the encoder's; say so in one line."""
        _check_section(section, tuple(p.means.shape))
        return decode_float_file(lambda: FrozenGaussian().decode(section, p.scales, p.means, u))

    @staticmethod
    def _cpu(p: GaussianParams) -> GaussianParams:
        return GaussianParams(to_cpu_f32(p.scales), to_cpu_f32(p.means))
