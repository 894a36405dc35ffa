"""Scale hyperprior: Balle, Minnen, Singh, Hwang, Johnston, "Variational image
compression with a scale hyperprior" (ICLR 2018).

    x -> g_a -> y ---------------> Q -> y_hat -> g_s -> x_hat
               |                          ^
               h_a -> z -> Q -> z_hat -> h_s -> sigma  (N(0, sigma) per element)
                             |
                     factorized density p(z_hat)

z keeps rounding under every quantizer: it is a few percent of the rate and
its tables stay frozen; universal quantization applies to y.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ..entropy import FactorizedDensity, FrozenGaussian, GaussianDensity
from ..quantize import TrainingQuantizer, add_noise
from ..errors import CorruptFile
from .base import CodecModel, Coded, DitherFn, Geometry, RateDistortionOutput, TransformConfig, no_dither, to_cpu_f32
from .transforms import AnalysisTransform, HyperAnalysis, HyperSynthesis, SynthesisTransform


class GaussianParams(NamedTuple):
    """Entropy parameters of y: (B, M, h, w) each, fp32 on the CPU when coding."""

    scales: Tensor
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

    def compress(self, x: Tensor, dither: DitherFn = no_dither) -> Coded:
        y = self.analysis(x)
        z = to_cpu_f32(self.hyper_analysis(y))
        y = to_cpu_f32(y)
        cz = self.coder("entropy_bottleneck").encode(z, None)
        p = self._cpu(self.entropy_parameters(cz.y_hat))
        cy = FrozenGaussian().encode(y, p.scales, p.means, dither(0, tuple(y.shape)))
        return Coded([cz.section, cy.section], cy.y_hat, cz.bits + cy.bits)

    def decompress(self, sections, g: Geometry, dither: DitherFn = no_dither) -> Tensor:
        self.check_sections(sections, g)
        z_hat = self.coder("entropy_bottleneck").decode(sections[0], g.shape("z"), None)
        p = self._cpu(self.entropy_parameters(z_hat))
        if tuple(p.means.shape) != g.shape("y"):
            raise CorruptFile("latent shapes do not match the image size")
        y_hat = FrozenGaussian().decode(sections[1], p.scales, p.means, dither(0, tuple(p.means.shape)))
        return self.synthesis(y_hat)

    @staticmethod
    def _cpu(p: GaussianParams) -> GaussianParams:
        return GaussianParams(to_cpu_f32(p.scales), to_cpu_f32(p.means))
