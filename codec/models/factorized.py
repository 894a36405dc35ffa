"""Factorized prior: Balle, Laparra, Simoncelli, "End-to-end optimized image
compression" (ICLR 2017), with the deep factorized density of Balle et al. 2018.

    x -> g_a -> y -> Q -> y_hat -> g_s -> x_hat
                      |
              factorized density p(y_hat) = prod_c p_c  (one per channel)
"""
from __future__ import annotations

from torch import Tensor

from ..entropy import FactorizedDensity
from ..quantize import TrainingQuantizer
from .base import (CodecModel, Coded, DitherFn, Geometry, LatentQuantizer, Latents, RateDistortionOutput,
                   TransformConfig, decode_float_file, no_dither, to_cpu_f32)
from .integer import Arithmetic
from .transforms import AnalysisTransform, SynthesisTransform


class FactorizedPrior(CodecModel):
    latent_paths = {"y": ("g_a",)}
    cpu_parts = ("entropy_bottleneck",)
    dithered_densities = ("entropy_bottleneck",)

    def __init__(self, config: TransformConfig):
        super().__init__(config)
        N, M = config.N, config.M
        self.g_a = AnalysisTransform(N, M)
        self.g_s = SynthesisTransform(N, M)
        self.entropy_bottleneck = FactorizedDensity(M)

    def forward(self, x: Tensor, quantizer: TrainingQuantizer = TrainingQuantizer.NOISE) -> RateDistortionOutput:
        """``quantizer`` rounds y around the channel medians (the coder's centres)."""
        y = self.analysis(x).float()
        yq = quantizer(y, self.entropy_bottleneck.medians().view(1, -1, 1, 1))
        return RateDistortionOutput(self.synthesis(yq.synthesis),
                                    {"y": self.entropy_bottleneck.likelihood(yq.rate)})

    def compress(self, x: Tensor, dither: DitherFn = no_dither, arithmetic=None) -> Coded:
        """``arithmetic``: INTEGER codes a dithered y with the frozen CDF grid
        (portable), FLOAT or None with the float32 density (codec.entropy)."""
        return self.compress_latents(self.encode_latents(x), dither, arithmetic)

    def encode_latents(self, x: Tensor) -> Latents:
        return Latents(to_cpu_f32(self.analysis(x)))

    def compress_latents(self, latents: Latents, dither: DitherFn = no_dither, arithmetic=None) -> Coded:
        y = latents.y
        cy = self.coder("entropy_bottleneck").encode(y, dither(0, tuple(y.shape)),
                                                     portable=arithmetic == Arithmetic.INTEGER)
        return Coded([cy.section], cy.y_hat, cy.bits)

    def latent_rd(self, latents: Latents, quantizer: LatentQuantizer,
                  dither: DitherFn = no_dither) -> RateDistortionOutput:
        """y is rounded around the frozen medians (the coder's centres), dither stream 0."""
        y = latents.y
        y_hat = quantizer(y, self.coder("entropy_bottleneck").centre(), dither(0, tuple(y.shape)))
        return RateDistortionOutput(self.synthesis(y_hat), {"y": self.entropy_bottleneck.likelihood(y_hat)})

    def decompress(self, sections, g: Geometry, dither: DitherFn = no_dither, arithmetic=None) -> Tensor:
        self.check_sections(sections, g)
        y_shape = g.shape("y")
        coder, u = self.coder("entropy_bottleneck"), dither(0, y_shape)
        if u is None or arithmetic == Arithmetic.INTEGER:   # the frozen pmf or the frozen CDF grid
            y_hat = coder.decode(sections[0], y_shape, u, portable=u is not None)
        else:                                               # the float32 density network
            y_hat = decode_float_file(lambda: coder.decode(sections[0], y_shape, u))
        return self.synthesis(y_hat)
