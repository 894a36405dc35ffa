"""Encode/decode speed of our codec against compressai's own coder, same weights.

For one image, times (median of --repeats) our `codec.api` compress/decompress
(rounding and universal quantization) and compressai's `compress()` /
`decompress()` of the same architecture with the same weights loaded, in one
run, and prints the ratios. CPU by default.

    python scripts/bench_codec.py --image ../shared/data/kodak/kodim01.png \
        --checkpoint checkpoints/mean-scale-q3.pt
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import torch

from codec import api, checkpoint as ckpt_io, shipped
from codec.image import load_rgb, pad, to_tensor
from codec.quantize import QuantizerKind


def median_time(fn, repeats: int) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def compressai_model(ckpt: ckpt_io.Checkpoint):
    """The same architecture from compressai.models with our weights loaded."""
    from compressai.models import FactorizedPrior, MeanScaleHyperprior, ScaleHyperprior
    cls = {"factorized": FactorizedPrior, "hyperprior": ScaleHyperprior,
           "mean-scale": MeanScaleHyperprior}[ckpt.model]
    cfg = ckpt.model_config()
    net = cls(cfg.N, cfg.M)
    sd = {k: v.float() for k, v in ckpt.state_dict.items() if k in net.state_dict()}
    sd = {k: v for k, v in sd.items() if v.numel() or net.state_dict()[k].numel() == 0}
    torch.nn.Module.load_state_dict(net, sd, strict=False)  # bypass buffer resizing
    net.update(force=True)
    return net.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default="../shared/data/kodak/kodim01.png")
    ap.add_argument("--checkpoint", default=None, help="default: shipped mean-scale q3")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    if a.threads:
        torch.set_num_threads(a.threads)
    path = a.checkpoint or shipped.checkpoint_path(api.DEFAULT_MODEL, api.DEFAULT_QUALITY)
    ours = api.load_model(path, device="cpu")
    theirs = compressai_model(ckpt_io.load(path))
    rgb = load_rgb(a.image, quiet=True)
    H, W = rgb.shape[:2]
    print(f"image {a.image} ({W}x{H}), model {ours.name} q{ours.quality}, "
          f"{torch.get_num_threads()} threads, median of {a.repeats}")

    api.compress_full(rgb, ours)  # warm-up (allocator, oneDNN kernels)
    rows = {}
    for q in (QuantizerKind.ROUND, QuantizerKind.UNIVERSAL):
        # timed like compressai's compress(): no synthesis on the encoder side
        t_enc, res = median_time(lambda: api.compress_full(rgb, ours, q, seed=1, reconstruct=False), a.repeats)
        t_dec, out = median_time(lambda: api.decompress(res.data, ours), a.repeats)
        check = api.compress_full(rgb, ours, q, seed=1)
        assert check.data == res.data and np.array_equal(out, check.reconstruction), \
            "decode differs from the encoder's reconstruction"
        rows[q.name.lower()] = (t_enc, t_dec, 8 * len(res.data) / (H * W))

    x = pad(to_tensor(rgb), ours.net.geometry(H, W).stride)
    with torch.inference_mode():
        theirs.compress(x)
        t_enc_c, enc = median_time(lambda: theirs.compress(x), a.repeats)
        t_dec_c, _ = median_time(lambda: theirs.decompress(enc["strings"], enc["shape"]), a.repeats)
    bits_c = 8 * sum(len(s) for ss in enc["strings"] for s in ss)
    rows["compressai"] = (t_enc_c, t_dec_c, bits_c / (H * W))

    print(f"{'coder':<12}{'encode s':>10}{'decode s':>10}{'bpp':>8}")
    for k, (e, d, b) in rows.items():
        print(f"{k:<12}{e:>10.3f}{d:>10.3f}{b:>8.4f}")
    e, d, _ = rows["round"]
    print(f"ratio compressai/ours (>1: ours faster): encode {t_enc_c / e:.2f}x, decode {t_dec_c / d:.2f}x, "
          f"total {(t_enc_c + t_dec_c) / (e + d):.2f}x")
    eu, du, _ = rows["universal"]
    print(f"ratio uq/round (target <= 2): encode+decode {(eu + du) / (e + d):.2f}x")


if __name__ == "__main__":
    main()
