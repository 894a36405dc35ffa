"""Rate-distortion cost of integer entropy-parameter arithmetic vs float32.

    python scripts/integer_cost.py /work/shared/data/kodak [--checkpoint checkpoints/mean-scale-q3.pt]
                                   [--check-decode]

Every image is coded twice through the real file format with the same
checkpoint (no new weights): float32 h_s and the exact integer h_s. Prints
per-image and total bytes, mean PSNR (8-bit RGB, per image), the relative
change in bytes, and the CPU seconds the run took. ``--check-decode`` also
decodes every file and asserts it equals the encoder's reconstruction.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from codec import api, shipped
from codec.image import load_rgb
from codec.metrics import psnr
from codec.models.integer import Arithmetic


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--checkpoint", default=str(shipped.checkpoint_path(api.DEFAULT_MODEL, api.DEFAULT_QUALITY)))
    ap.add_argument("--check-decode", action="store_true")
    a = ap.parse_args()
    images = sorted(p for p in Path(a.folder).iterdir() if p.suffix.lower() in (".png", ".jpg", ".ppm"))
    if not images:
        print(f"no images in {a.folder}", file=sys.stderr)
        return 2
    model = api.load_model(a.checkpoint, device="cpu")
    t0 = time.process_time()
    total = {k: 0 for k in Arithmetic}
    quality = {k: [] for k in Arithmetic}
    print(f"{'image':<14}{'float bytes':>12}{'int bytes':>11}{'float dB':>10}{'int dB':>9}")
    for path in images:
        rgb = load_rgb(path, quiet=True)
        row = {}
        for kind in Arithmetic:
            res = api.compress_full(rgb, model, arithmetic=kind)
            if a.check_decode:
                assert np.array_equal(api.decompress(res.data, model), res.reconstruction), path.name
            row[kind] = (len(res.data), psnr(rgb, res.reconstruction))
            total[kind] += row[kind][0]
            quality[kind].append(row[kind][1])
        f, i = row[Arithmetic.FLOAT], row[Arithmetic.INTEGER]
        print(f"{path.stem:<14}{f[0]:>12}{i[0]:>11}{f[1]:>10.3f}{i[1]:>9.3f}", flush=True)
    f_b, i_b = total[Arithmetic.FLOAT], total[Arithmetic.INTEGER]
    print(f"total bytes: float {f_b}, integer {i_b} ({100 * (i_b - f_b) / f_b:+.3f} %)")
    print(f"mean PSNR: float {np.mean(quality[Arithmetic.FLOAT]):.3f} dB, "
          f"integer {np.mean(quality[Arithmetic.INTEGER]):.3f} dB  ({len(images)} images)")
    print(f"CPU time: {time.process_time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
