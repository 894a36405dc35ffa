"""Send the latent y of a Kodak crop through a Gaussian channel instead of a quantizer.

The use of codec.channel inside the codec, measured against the two shipped
quantizers of y (rounding and universal quantization), with the shipped
mean-scale hyperprior (checkpoints/mean-scale-q3.pt):

* rounding:   y_hat = round(y - mu) + mu, coded with the discretized N(mu, sigma);
* universal:  y_hat = y + U(-1/2, 1/2) exactly (shared dither), same coder;
* channel:    y_hat ~ Q_i = N(y_i, 1/12) exactly (the Gaussian with the noise
  variance of UQ), sent by branch-and-bound GPRS against
  P_i = N(mu_i, sigma_i^2 + 1/12) -- the law of y_i + noise if y_i ~ N(mu_i,
  sigma_i^2), which is what the hyperprior predicts -- one range-coded message
  for all elements (codec.channel.diagonal).  The decoder needs only P (from
  z_hat, as today) and the seed, and its y_hat is checked bit-equal to the
  encoder's.

z is rounded and coded in all three (its bits are added to every bpp).  The
script prints bits per element of y, bpp and PSNR of each, and the ideal
channel cost sum_i D_KL[Q_i || P_i] with the one-shot overhead split by the
elements' KL.

    python scripts/channel_latent_example.py --image /work/shared/data/kodak/kodim23.png --crop 128
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from codec import api
from codec.channel import IntegerPrior, Method, decode, encode
from codec.entropy import FrozenGaussian
from codec.image import crop, load_rgb, to_tensor, to_uint8
from codec.metrics import psnr
from codec.quantize import dither
from codec.models.base import to_cpu_f32

CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "mean-scale-q3.pt"
NOISE_VAR = 1.0 / 12.0


def centre_crop(rgb: np.ndarray, size: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    size = min(size, h, w) // 64 * 64
    top, left = (h - size) // 2, (w - size) // 2
    return rgb[top:top + size, left:left + size]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=Path, required=True)
    ap.add_argument("--crop", type=int, default=64, help="centre crop side (multiple of 64)")
    ap.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--zeta", type=float, default=3.0,
                    help="exponent of the depth prior (3: most latent elements have KL ~ 0 and stop at depth 1)")
    args = ap.parse_args(argv)

    model = api.load_model(args.checkpoint, device="cpu")
    net = model.net
    rgb = centre_crop(load_rgb(args.image), args.crop)
    H, W = rgb.shape[:2]
    with torch.inference_mode():
        x = to_tensor(rgb)
        y = to_cpu_f32(net.analysis(x))
        z = to_cpu_f32(net.hyper_analysis(y))
        cz = net.coder("entropy_bottleneck").encode(z, None)
        p = net._cpu(net.entropy_parameters(cz.y_hat))

        def show(y_hat: torch.Tensor) -> float:
            return psnr(rgb, to_uint8(crop(net.synthesis(y_hat.float()), H, W)))

        rows = []
        rnd = FrozenGaussian().encode(y, p.scales, p.means, None)
        rows.append(("rounding", rnd.bits, show(rnd.y_hat)))
        uq = FrozenGaussian().encode(y, p.scales, p.means, dither(args.seed, 0, tuple(y.shape)))
        rows.append(("universal quantization", uq.bits, show(uq.y_hat)))

        q_mean = y.double().numpy().ravel()
        q_std = np.full(q_mean.size, np.sqrt(NOISE_VAR))
        p_mean = p.means.double().numpy().ravel()
        p_std = np.sqrt(np.square(p.scales.double().numpy().ravel()) + NOISE_VAR)
        t0 = time.process_time()
        prior = IntegerPrior(args.zeta)
        msg = encode(q_mean, q_std, p_mean, p_std, args.seed, Method.BNB, prior)
        t_enc = time.process_time() - t0
        t0 = time.process_time()
        back = decode(msg.data, p_mean, p_std, args.seed, Method.BNB, prior)
        t_dec = time.process_time() - t0
        assert back.tobytes() == msg.samples.tobytes(), "decoder's sample differs from the encoder's"
        y_ch = torch.from_numpy(back.reshape(y.shape)).float()
        rows.append(("Gaussian channel (BNB GPRS)", 8.0 * len(msg.data), show(y_ch)))

    n, pixels = y.numel(), H * W
    print(f"{args.image.name} crop {H}x{W}: y has {n} elements, z costs {cz.bits:.0f} bits; "
          f"depth prior zeta {args.zeta:g}; depths 1/2/3+: {np.bincount(msg.examined.astype(int))[1:3].tolist()}"
          f"/{int((msg.examined >= 3).sum())}")
    print(f"{'method':30s} {'bits/elem y':>11s} {'bpp (y+z)':>10s} {'PSNR dB':>8s}")
    for name, bits, db in rows:
        print(f"{name:30s} {bits / n:11.3f} {(bits + cz.bits) / pixels:10.3f} {db:8.2f}")
    kl = msg.kl_bits
    print(f"channel: ideal sum KL = {kl.sum():.0f} bits ({kl.sum() / n:.3f}/elem), information content "
          f"{msg.bits.sum():.0f} bits, stream {8 * len(msg.data)} bits; "
          f"encode {t_enc:.1f} s, decode {t_dec:.1f} s CPU; mean nodes {msg.examined.mean():.2f}")
    for lo, hi in ((0, 0.1), (0.1, 1), (1, 4), (4, np.inf)):
        sel = (kl >= lo) & (kl < hi)
        if sel.any():
            print(f"  elements with KL in [{lo}, {hi}) bits: {sel.sum():6d}, mean KL {kl[sel].mean():.3f}, "
                  f"mean cost {msg.bits[sel].mean():.3f} bits, overhead {(msg.bits[sel] - kl[sel]).mean():.3f}")


if __name__ == "__main__":
    main()
