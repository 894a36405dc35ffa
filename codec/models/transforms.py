"""Analysis and synthesis transforms of Balle et al. (2017, 2018).

Layer layouts (and so the state-dict keys) follow the papers' figures exactly
as compressai lays them out, so weights move between the two without mapping.
"""
from __future__ import annotations

from ..compressai_parts import GDN
from torch import nn


def conv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


def deconv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, k, stride=stride, padding=k // 2,
                              output_padding=stride - 1)


class AnalysisTransform(nn.Sequential):
    """g_a: (B, 3, H, W) in [0, 1] -> y (B, M, H/16, W/16). conv5x5/2 + GDN, x4."""

    def __init__(self, N: int, M: int):
        super().__init__(conv(3, N), GDN(N), conv(N, N), GDN(N), conv(N, N), GDN(N), conv(N, M))


class SynthesisTransform(nn.Sequential):
    """g_s: y_hat (B, M, h, w) -> x_hat (B, 3, 16h, 16w). deconv5x5/2 + IGDN, x4."""

    def __init__(self, N: int, M: int):
        super().__init__(deconv(M, N), GDN(N, inverse=True), deconv(N, N), GDN(N, inverse=True),
                         deconv(N, N), GDN(N, inverse=True), deconv(N, 3))


class HyperAnalysis(nn.Sequential):
    """h_a of the scale hyperprior: |y| (B, M, h, w) -> z (B, N, h/4, w/4)."""

    def __init__(self, N: int, M: int):
        super().__init__(conv(M, N, 3, 1), nn.ReLU(inplace=True), conv(N, N), nn.ReLU(inplace=True),
                         conv(N, N))


class HyperSynthesis(nn.Sequential):
    """h_s of the scale hyperprior: z_hat -> scales (B, M, h, w), non-negative."""

    def __init__(self, N: int, M: int):
        super().__init__(deconv(N, N), nn.ReLU(inplace=True), deconv(N, N), nn.ReLU(inplace=True),
                         conv(N, M, 3, 1), nn.ReLU(inplace=True))


class MeanScaleHyperAnalysis(nn.Sequential):
    """h_a of Minnen et al. 2018: y (signed) -> z (B, N, h/4, w/4)."""

    def __init__(self, N: int, M: int):
        super().__init__(conv(M, N, 3, 1), nn.LeakyReLU(inplace=True), conv(N, N),
                         nn.LeakyReLU(inplace=True), conv(N, N))


class MeanScaleHyperSynthesis(nn.Sequential):
    """h_s of Minnen et al. 2018: z_hat -> (scales, means) stacked, (B, 2M, h, w)."""

    def __init__(self, N: int, M: int):
        super().__init__(deconv(N, M), nn.LeakyReLU(inplace=True), deconv(M, M * 3 // 2),
                         nn.LeakyReLU(inplace=True), conv(M * 3 // 2, M * 2, 3, 1))
