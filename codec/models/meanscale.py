"""Mean-scale hyperprior: Minnen, Balle, Toderici, "Joint autoregressive and
hierarchical priors for learned image compression" (NeurIPS 2018), without the
autoregressive context model.

Same figure as the scale hyperprior, but h_a sees signed y (LeakyReLU) and h_s
predicts a mean as well as a scale for each element of y: y ~ N(mu, sigma),
coded as k = round(y - mu), y_hat = k + mu.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .base import TransformConfig
from .hyperprior import GaussianParams, ScaleHyperprior
from .transforms import MeanScaleHyperAnalysis, MeanScaleHyperSynthesis


class MeanScaleHyperprior(ScaleHyperprior):
    def __init__(self, config: TransformConfig):
        super().__init__(config)
        N, M = config.N, config.M
        self.h_a = MeanScaleHyperAnalysis(N, M)
        self.h_s = MeanScaleHyperSynthesis(N, M)

    def hyper_analysis(self, y: Tensor) -> Tensor:
        return self.h_a(y)

    def entropy_parameters(self, z_hat: Tensor) -> GaussianParams:
        dev = next(self.h_s.parameters()).device
        with torch.autocast(dev.type, enabled=False):
            scales, means = self.h_s(z_hat.float().to(dev)).chunk(2, 1)
        return GaussianParams(scales, means)

    @staticmethod
    def _split(v: Tensor) -> tuple[Tensor, Tensor]:
        scales, means = v.chunk(2, 1)
        return scales, means
