"""Encode-time latent refinement: spend encoder CPU on the latents of one image.

g_a is an amortized guess at the best latents; for one image the encoder can
do better by optimizing them directly under the model's own rate-distortion
loss (Yang, Bamler & Mandt, "Improving inference for neural image
compression", NeurIPS 2020). The decoder never knows: the refined latents are
coded by the unchanged coder, so the file format and the decoder are the same
(a decoder that never imports this module decodes a refined file bit-exactly,
tests/test_refine.py).

Relaxation: stochastic Gumbel annealing (SGA, ibid.). For v = y - centre [- u]
each element picks floor(v) or ceil(v) with a two-class Gumbel-softmax whose
logits are -atanh(distance)/tau and whose temperature is tau, so the sample is
a soft mix of the two integers; tau is annealed geometrically from 0.5 to
0.05 over the N steps, i.e. towards hard rounding, the coder's rule.

Universal quantization: the dither u (from the header seed) is known to the
encoder, so the symbols are k = round(y - mu - u) of a deterministic y; SGA
relaxes that rounding exactly as for plain rounding, and the rate is the
likelihood of k + mu + u under the same bins the coder uses (P(k | u)). The
noise is real at decode time, but it is not a random variable to the encoder.

Loss: lambda * 255^2 * MSE + bpp (the training loss at the model's lambda;
the caller passes lambda, so a variable-rate model passes the lambda of the
chosen quality). Only latent-dependent parts run in the loop
(``CodecModel.latent_rd``: h_s and g_s; never g_a). Adam on the latents.
Every ``check_every`` steps the hard-rounded loss is evaluated (a g_s forward
without gradient) and the best hard-rounded latents so far are kept, the
start included: the result is never worse than the start under the model's
float loss; the caller (``codec.api``) also compares the real coded files.
Early stop: ``patience`` checks in a row without a better hard loss.

Speed (``fused``, on by default; off is the baseline of
scripts/bench_refine.py): the loop's cost is g_s forward and backward at full
resolution. Its inverse GDNs run, while refining, as one autograd function
with the backward written out (dL/dx = g n + x * Gamma^T (g x / n), n the
IGDN norm) over weights reparametrized once: four element-wise passes over
the largest tensors instead of autograd's seven, the same forward values.
The decoder and the final coding use the model's own modules.

Precision (``precision="auto"``): on a CPU with bf16 units (AMX) the relaxed
steps run g_s under bf16 autocast, about 2x faster per step (h_s, the
likelihoods and the hard-rounded checks stay fp32, so what is kept is judged
exactly); elsewhere fp32 (bf16 is emulated there and much slower).
"""
from __future__ import annotations

import contextlib
import math
import sys
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .compressai_parts import GDN
from .errors import CodecError
from .image import crop
from .limits import REFINE_MAX
from .models import CodecModel, Latents, hard_quantizer
from .models.base import DitherFn, no_dither, rate_bits
from .precision import CPU_PRECISIONS, autocast, autocast_dtype

TAU_START, TAU_END = 0.5, 0.05
DEFAULT_LR = 0.02


@dataclass(frozen=True)
class RefineResult:
    """latents: the best hard-rounded latents found (the start if nothing was better).
    start_loss / loss: hard-rounded RD loss (lambda*MSE_255 + bpp, float h_s) before and of ``latents``.
    steps: optimizer steps run (< requested when stopped early)."""

    latents: Latents
    start_loss: float
    loss: float
    steps: int
    improved: bool


def check_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= REFINE_MAX:
        raise CodecError(f"refine steps must be an integer in 0..{REFINE_MAX}, got {steps!r}")
    return steps


def sga_round(v: Tensor, tau: float, generator: torch.Generator | None = None) -> Tensor:
    """Relaxed rounding of v (any shape): floor(v) + w, w in (0, 1) a Gumbel-softmax
    choice between floor and ceil with temperature tau (SGA, atanh logits)."""
    fl = torch.floor(v)
    d = v - fl                                       # distance to floor, [0, 1)
    eps = 1e-5
    logit_down = -torch.atanh(d.clamp(eps, 1 - eps)) / tau
    logit_up = -torch.atanh((1 - d).clamp(eps, 1 - eps)) / tau
    uni = torch.rand(v.shape, generator=generator).clamp(1e-7, 1 - 1e-7)
    logistic = torch.log(uni) - torch.log1p(-uni)    # difference of two Gumbels
    return fl + torch.sigmoid((logit_up - logit_down + logistic) / tau)


def rd_loss(net: CodecModel, latents: Latents, quantizer, dither: DitherFn, x: Tensor,
            lmbda: float) -> Tensor:
    """lambda * 255^2 * MSE (over the unpadded H x W of x) + bits / (H W)."""
    H, W = x.shape[-2:]
    out = net.latent_rd(latents, quantizer, dither)
    x_hat = crop(out.x_hat, H, W).float()
    mse = torch.mean((x_hat.clamp(0, 1) - x.to(x_hat.device)) ** 2)
    return lmbda * 255 ** 2 * mse + rate_bits(out.likelihoods) / (H * W)


def _cached(dither: DitherFn) -> DitherFn:
    memo: dict = {}

    def f(stream, shape):
        key = (stream, tuple(shape))
        if key not in memo:
            memo[key] = dither(stream, shape)
        return memo[key]
    return f


class _IGDNFunction(torch.autograd.Function):
    """out = x * sqrt(conv1x1(x^2, Gamma) + beta) with a written-out backward
    (gradient for x only: the weights are frozen while refining)."""

    @staticmethod
    def forward(ctx, x: Tensor, gamma: Tensor, gamma_t: Tensor, beta: Tensor) -> Tensor:
        # in x's dtype: bf16 under autocast (the weights are cast, as autocast's conv would)
        n = torch.sqrt(F.conv2d(x * x, gamma.to(x.dtype), beta.to(x.dtype)))
        ctx.save_for_backward(x, n, gamma_t)
        return x * n

    @staticmethod
    def backward(ctx, g: Tensor):
        x, n, gamma_t = ctx.saved_tensors
        g = g.to(x.dtype)
        b = F.conv2d((g * x).div_(n), gamma_t.to(x.dtype))
        return torch.addcmul(g * n, x, b), None, None, None


class FrozenIGDN(nn.Module):
    """An inverse GDN with its weights reparametrized once (they do not change
    while refining) and the fused backward above."""

    def __init__(self, gdn: GDN):
        super().__init__()
        C = gdn.beta.shape[0]
        with torch.no_grad():
            gamma = gdn.gamma_reparam(gdn.gamma).reshape(C, C, 1, 1)
            self.register_buffer("gamma", gamma.contiguous().clone())
            self.register_buffer("gamma_t", gamma.transpose(0, 1).contiguous().clone())
            self.register_buffer("beta", gdn.beta_reparam(gdn.beta).clone())

    def forward(self, x: Tensor) -> Tensor:
        return _IGDNFunction.apply(x, self.gamma, self.gamma_t, self.beta)


@contextlib.contextmanager
def fused_synthesis(net: CodecModel):
    """Every inverse GDN of ``net.g_s`` swapped for a FrozenIGDN, and put back after."""
    swapped = []
    for parent in list(net.g_s.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, GDN) and child.inverse:
                swapped.append((parent, name, child))
                setattr(parent, name, FrozenIGDN(child))
    try:
        yield
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child)


def refine(net: CodecModel, x: Tensor, start: Latents, lmbda: float, steps: int,
           dither: DitherFn = no_dither, lr: float = DEFAULT_LR, check_every: int | None = None,
           patience: int = 3, seed: int = 0, progress: bool = False,
           optimizer: Callable | None = None, fused: bool = True,
           precision: str = "auto") -> RefineResult:
    """Refine ``start`` (from ``net.encode_latents``) for image x (1, 3, H, W) in [0, 1], unpadded.

    ``optimizer(params) -> torch.optim.Optimizer`` replaces Adam(lr) (tests force a bad one).
    ``fused``: inverse GDNs with the fused backward (False: the model's own modules, the baseline).
    ``precision``: the relaxed steps' transforms under autocast ("auto": bf16
    where the CPU has bf16 units, else fp32; "fp32"; "bf16"); the hard-rounded
    checks that choose the kept latents always run in fp32.
    Deterministic for a given seed on a given machine (Gumbel noise from its own generator)."""
    steps = check_steps(steps)
    if precision not in CPU_PRECISIONS:
        raise CodecError(f"refine precision must be one of {', '.join(CPU_PRECISIONS)}, got {precision!r}")
    amp = autocast_dtype(precision, torch.device("cpu"))
    dither = _cached(dither)
    x = x.detach().float().cpu()
    start = start.detached()
    with torch.no_grad():
        start_loss = float(rd_loss(net, start, hard_quantizer, dither, x, lmbda))
    best, best_loss = start, start_loss
    if steps == 0:
        return RefineResult(start, start_loss, start_loss, 0, False)
    params = [t.clone().requires_grad_(True) for t in (start.y, start.z) if t is not None]
    opt = optimizer(params) if optimizer is not None else torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    check_every = check_every or max(5, steps // 10)
    frozen = [p for p in net.parameters() if p.requires_grad]
    for p in frozen:                      # gradients for the latents only
        p.requires_grad_(False)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=steps, unit="step", desc="refine", file=sys.stderr, leave=False)
    since_best, done = 0, 0
    try:
        with fused_synthesis(net) if fused else contextlib.nullcontext():
            for t in range(steps):
                tau = TAU_START * (TAU_END / TAU_START) ** (t / max(1, steps - 1))
                lat = Latents(*params)                   # params = [y] or [y, z]
                with autocast("cpu", amp):
                    loss = rd_loss(net, lat, lambda v, c, o: _relaxed(v, c, o, tau, gen), dither, x, lmbda)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                done = t + 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix_str(f"loss {float(loss):.4f} best {best_loss:.4f}")
                if done % check_every == 0 or done == steps:
                    with torch.no_grad():   # a copy: Adam goes on changing params in place
                        cand = Latents(*(p.detach().clone() for p in params))
                        h = float(rd_loss(net, cand, hard_quantizer, dither, x, lmbda))
                    if math.isfinite(h) and h < best_loss:
                        best, best_loss, since_best = cand, h, 0
                    else:
                        since_best += 1
                        if since_best >= patience:
                            break
    finally:
        for p in frozen:
            p.requires_grad_(True)
        if bar is not None:
            bar.close()
    return RefineResult(best, start_loss, best_loss, done, best is not start)


def _relaxed(v: Tensor, centre: Tensor, offset: Tensor | None, tau: float, gen) -> Tensor:
    """v_hat = centre [+ offset] + sga_round(v - centre [- offset])."""
    shift = centre if offset is None else centre + offset
    return shift + sga_round(v - shift, tau, gen)
