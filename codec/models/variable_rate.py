"""Variable rate for any family: gain units (Cui, Wang, Gao, Bai, Zhang, Li,
Tian, "Asymmetric gained deep image compression with continuous rate
adaptation", CVPR 2021).

One model covers the anchors q_min..q_max of the MSE lambda table. Each coded
latent (y, and z for the hyperprior families) gets, per anchor, a channel
gain g and an inverse gain g' (vectors of the latent's C channels):

    x -> g_a -> y * g_y(q) -> [code y_s] -> y_hat_s * g'_y(q) -> g_s -> x_hat
                 |
                 h_a -> z * g_z(q) -> [code z_s] -> z_hat_s * g'_z(q) -> h_s
                                                     (entropy parameters of y_s)

A larger gain spreads the latent over more quantization bins (more rate,
less distortion). The family's own stages and compositions are reused
unchanged: this mixin only wraps ``analysis``, ``hyper_analysis``,
``entropy_parameters``/``exact_parameters`` and ``synthesis``, so one wrapper
serves all three families and adding a variable-rate family is one registry
line ``variable_rate(Family)``.

Quality is a real number q in [q_min, q_max]; between anchors i and i + 1
(t = q - i) the gains interpolate exponentially, as in the paper:
g(q) = g_i^(1-t) g_{i+1}^t, i.e. linearly in the stored log-gains. Coding
uses q on the file header's grid (1/256) and computes the gains with
``decimal`` (correctly rounded exp, software arithmetic): the inverse gain of
z feeds the integer h_s, so it must be the same number on every machine, and
libm's exp is not guaranteed to be. Training uses torch with one q per example.

Initialisation: log g_y at anchor i is 0.5 ln(lambda_i / lambda_ref), the
high-rate step size law (step ~ lambda^-1/2), g' = 1 / g, and g_z = g'_z = 1.
At the reference anchor (config ``quality``) every gain is exactly 1, so a
warm start from a fixed-rate model of that quality reproduces it bit for bit.
"""
from __future__ import annotations

import decimal
import math
from dataclasses import dataclass
from fractions import Fraction

import torch
from torch import Tensor, nn

from .base import CodecModel, TransformConfig, _convs

#: lambda for MSE per quality index 1..8 (the published CompressAI table)
MSE_LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800)
QUALITY_GRID = 256          # qualities are coded on a 1/256 grid (the header's u16 fixed point)
_EXACT = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_EVEN)


@dataclass
class VariableRateConfig(TransformConfig):
    """A variable-rate model: the family's transforms (N/M) plus the anchors
    it carries. 128/192 carries q1..q5 (0.0018..0.0250): CompressAI's own
    zoo uses 128/192 up to q5 and 192/320 from q6, where M = 192 channels
    saturate; 192/320 costs about 2.5x per step on this CPU. ``quality`` is
    the reference anchor, where every gain is 1 (a fixed-rate warm start)."""

    quality: int = 3
    q_min: int = 1
    q_max: int = 5


def check_anchors(q_min: int, q_max: int, reference: int) -> str | None:
    """None if the anchors fit the lambda table, else the reason (one line)."""
    n = len(MSE_LAMBDAS)
    if not (1 <= q_min < q_max <= n):
        return f"anchors q_min={q_min}, q_max={q_max} must satisfy 1 <= q_min < q_max <= {n}"
    if not q_min <= reference <= q_max:
        return f"reference quality {reference} is outside the anchors {q_min}..{q_max}"
    return None


def lmbda_at(q: Tensor | float) -> Tensor | float:
    """Lambda at real quality q in [1, 8], log-linear between table entries (the
    same interpolation as the gains)."""
    logs = torch.log(torch.tensor(MSE_LAMBDAS, dtype=torch.float64))
    qt = torch.as_tensor(q, dtype=torch.float64)
    p = (qt - 1).clamp(0, len(MSE_LAMBDAS) - 1)
    i = p.floor().clamp(max=len(MSE_LAMBDAS) - 2).long()
    t = p - i
    out = torch.exp((1 - t) * logs[i] + t * logs[i + 1])
    return float(out) if not isinstance(q, Tensor) else out.to(q.dtype if q.is_floating_point() else torch.float32)


def on_grid(q: float) -> float:
    """q rounded to the header's 1/256 grid."""
    return round(float(q) * QUALITY_GRID) / QUALITY_GRID


class GainUnits(nn.Module):
    """Log-gains and log-inverse-gains of one latent: (K anchors, C channels) each."""

    def __init__(self, anchors: int, channels: int, init: Tensor):
        super().__init__()
        self.log_gain = nn.Parameter(init.view(-1, 1).repeat(1, channels).float())
        self.log_inverse = nn.Parameter(-init.view(-1, 1).repeat(1, channels).float())

    def train_values(self, p: Tensor) -> tuple[Tensor, Tensor]:
        """p (B,) anchor positions in [0, K-1] -> (gain, inverse), (B, C, 1, 1), differentiable."""
        K = self.log_gain.shape[0]
        p = p.to(self.log_gain.device, torch.float32).clamp(0, K - 1)
        i = p.floor().clamp(max=K - 2).long()
        t = (p - i).view(-1, 1)
        def interp(L):
            return torch.exp((1 - t) * L[i] + t * L[i + 1])[:, :, None, None]
        return interp(self.log_gain), interp(self.log_inverse)

    @torch.no_grad()
    def exact_values(self, p: Fraction) -> tuple[Tensor, Tensor]:
        """The same at one exact position p (a Fraction), (1, C, 1, 1) float32 on
        the CPU, identical on every machine (decimal exp, correctly rounded)."""
        K = self.log_gain.shape[0]
        i = min(int(math.floor(p)), K - 2)
        t = p - i
        def interp(L):
            lo, hi = L[i].detach().float().cpu().tolist(), L[i + 1].detach().float().cpu().tolist()
            num, den = t.numerator, t.denominator
            vals = [float(_EXACT.exp(_EXACT.divide(
                _EXACT.add(_EXACT.multiply(decimal.Decimal(a), den - num), _EXACT.multiply(decimal.Decimal(b), num)),
                den))) for a, b in zip(lo, hi)]
            return torch.tensor(vals, dtype=torch.float64).float().view(1, -1, 1, 1)
        return interp(self.log_gain), interp(self.log_inverse)


class VariableRate:
    """Mixin over a family class (see the module docstring); ``variable_rate``
    builds the subclass. The rate is model state, set by ``set_quality``
    before a forward, compress or decompress."""

    base: type[CodecModel]

    def __init__(self, config: VariableRateConfig):
        problem = check_anchors(config.q_min, config.q_max, config.quality)
        if problem:
            raise ValueError(problem)
        super().__init__(config)
        self.q_min, self.q_max = config.q_min, config.q_max
        K = config.q_max - config.q_min + 1
        ref = math.log(MSE_LAMBDAS[config.quality - 1])
        y_init = torch.tensor([0.5 * (math.log(MSE_LAMBDAS[config.q_min - 1 + k]) - ref) for k in range(K)])
        self.gains = nn.ModuleDict()
        for name, path in self.latent_paths.items():
            channels = _convs(getattr(self, path[-1]))[-1].out_channels
            self.gains[name] = GainUnits(K, channels, y_init if name == "y" else torch.zeros(K))
        self._rate: dict[str, tuple[Tensor, Tensor]] = {}
        self._exact_cache: tuple | None = None
        self.set_quality(float(config.quality))

    # --- the rate setting ----------------------------------------------------------
    @property
    def quality_range(self) -> tuple[int, int]:
        return self.q_min, self.q_max

    def set_quality(self, q: float | Tensor) -> None:
        """q: a real number (coding: put on the 1/256 grid, exact gains) or a
        (B,) tensor of per-example qualities (training: differentiable gains)."""
        if isinstance(q, Tensor):
            p = q.float() - self.q_min
            self._rate = {n: g.train_values(p) for n, g in self.gains.items()}
            self.quality = None
            return
        q = on_grid(q)
        if not self.q_min <= q <= self.q_max:
            raise ValueError(f"quality {q:g} is outside this model's range {self.q_min}..{self.q_max}")
        key = (q, tuple((p.data_ptr(), p._version) for p in self.gains.parameters()))
        if self._exact_cache is None or self._exact_cache[0] != key:
            p = Fraction(round(q * QUALITY_GRID), QUALITY_GRID) - self.q_min
            # plain tensors even when set under inference_mode (api.compress_full): the
            # cached gains are reused by autograd when the encoder refines latents
            with torch.inference_mode(False):
                self._exact_cache = (key, {n: g.exact_values(p) for n, g in self.gains.items()})
        self._rate = self._exact_cache[1]
        self.quality = q

    def _gain(self, name: str, inverse: bool, like: Tensor) -> Tensor:
        g = self._rate[name][1 if inverse else 0]
        return g.to(like.device, like.dtype if like.is_floating_point() else torch.float32)

    # --- the wrapped stages ----------------------------------------------------------
    def analysis(self, x: Tensor) -> Tensor:
        y = super().analysis(x)
        return y * self._gain("y", False, y)

    def hyper_analysis(self, y: Tensor) -> Tensor:
        z = super().hyper_analysis(y)
        return z * self._gain("z", False, z)

    def entropy_parameters(self, z_hat: Tensor):
        z_hat = z_hat.float()
        return super().entropy_parameters(z_hat * self._gain("z", True, z_hat))

    def exact_parameters(self, z_hat: Tensor):
        z_hat = z_hat.float().cpu()
        return super().exact_parameters(z_hat * self._gain("z", True, z_hat))

    def synthesis(self, y_hat: Tensor) -> Tensor:
        y_hat = y_hat.to(next(self.g_s.parameters()).device)
        return super().synthesis(y_hat * self._gain("y", True, y_hat))


def variable_rate(base: type[CodecModel]) -> type[CodecModel]:
    """The variable-rate form of a family class (gain units on each latent)."""
    return type(f"{base.__name__}VR", (VariableRate, base),
                {"base": base, "__doc__": f"{base.__name__} with gain units (codec.models.variable_rate)."})


def is_variable_rate(net: nn.Module) -> bool:
    return isinstance(net, VariableRate)
