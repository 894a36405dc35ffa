"""Universal quantization vs rounding: is the train/test mismatch gone?

For each image and shipped model, measures on the real coding path:
  * rounding:  file bpp, PSNR/MSE of the decoded image;
  * UQ:        file bpp, PSNR/MSE of the decoded image;
  * training estimate with the same dither u as noise: bpp = -log2 p(y + u)
    (+ the rounded z as coded) and MSE of g_s(y + u) -- what the model was
    trained to predict.
Prints per-model means and the relative gaps (UQ vs estimate, rounding vs
estimate), and a side-by-side RD table.

    python scripts/measure_uq.py ../shared/data/kodak --models mean-scale
"""
from __future__ import annotations

import argparse
import math
import warnings

import numpy as np
import torch

from codec import api
from codec.training.data import list_images
from codec.image import load_rgb, pad, to_tensor
from codec.metrics import mse8, psnr
from codec.models.base import to_cpu_f32
from codec.models.hyperprior import ScaleHyperprior
from codec.quantize import QuantizerKind, dither


@torch.inference_mode()
def training_estimate(m: api.LoadedModel, rgb: np.ndarray, seed: int) -> tuple[float, float]:
    """(bits, mse on 8-bit scale) of the noise channel with u = the file's dither."""
    H, W = rgb.shape[:2]
    x = pad(to_tensor(rgb), m.net.geometry(*rgb.shape[:2]).stride).to(m.device)
    net = m.net
    y_dev = net.analysis(x)
    y = to_cpu_f32(y_dev)
    u = dither(seed, 0, tuple(y.shape))
    y_tilde = y + u
    if isinstance(net, ScaleHyperprior):
        z = to_cpu_f32(net.hyper_analysis(y_dev))
        cz = net.coder("entropy_bottleneck").encode(z, None)   # z is rounded in the file too
        p = net.entropy_parameters(cz.y_hat)
        lik = net.gaussian_conditional.likelihood(y_tilde, p.scales.cpu(), p.means.cpu())
        bits = float(-torch.log2(lik).sum()) + cz.bits
    else:
        bits = float(-torch.log2(net.entropy_bottleneck.likelihood(y_tilde)).sum())
    x_tilde = net.synthesis(y_tilde)[..., :H, :W].clamp(0, 1).cpu()
    mse = float(((x_tilde - to_tensor(rgb)) ** 2).mean()) * 255 ** 2
    return bits, mse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--models", default="mean-scale")
    ap.add_argument("--qualities", default="3")
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    paths = list_images(a.folder)[: a.limit or None]
    print(f"{len(paths)} images from {a.folder}")
    print("| model | quantizer | bpp (file) | PSNR dB | MSE | est. bpp (y+u) | est. MSE (g_s(y+u)) |")
    print("|---|---|---|---|---|---|---|")
    for name in a.models.split(","):
        for q in map(int, a.qualities.split(",")):
            m = api.load_model(model=name, quality=q, device="cpu")
            rows = []
            for i, p in enumerate(paths):
                rgb = load_rgb(p, quiet=True)
                npx = rgb.shape[0] * rgb.shape[1]
                seed = 1000 + i
                r = api.compress_full(rgb, m)
                uq = api.compress_full(rgb, m, QuantizerKind.UNIVERSAL, seed=seed)
                assert np.array_equal(api.decompress(uq.data, m), uq.reconstruction)
                est_bits, est_mse = training_estimate(m, rgb, seed)
                rows.append([8 * len(r.data) / npx, psnr(rgb, r.reconstruction), mse8(rgb, r.reconstruction),
                             8 * len(uq.data) / npx, psnr(rgb, uq.reconstruction), mse8(rgb, uq.reconstruction),
                             est_bits / npx, est_mse])
            v = np.mean(rows, 0)
            est_psnr = 10 * math.log10(255 ** 2 / v[7])
            print(f"| {name} q{q} | rounding | {v[0]:.4f} | {v[1]:.2f} | {v[2]:.2f} | {v[6]:.4f} | {v[7]:.2f} |")
            print(f"| {name} q{q} | universal | {v[3]:.4f} | {v[4]:.2f} | {v[5]:.2f} | {v[6]:.4f} | {v[7]:.2f} |")
            print(f"  {name} q{q}: UQ file bpp vs estimate {100 * (v[3] / v[6] - 1):+.2f}%, "
                  f"rounding vs estimate {100 * (v[0] / v[6] - 1):+.2f}%; "
                  f"UQ MSE vs noise MSE {100 * (v[5] / v[7] - 1):+.2f}%, "
                  f"rounding MSE vs noise MSE {100 * (v[2] / v[7] - 1):+.2f}% "
                  f"(noise-channel PSNR {est_psnr:.2f} dB)")


if __name__ == "__main__":
    main()
