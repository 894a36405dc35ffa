"""Check codec.evaluation.ssimulacra2 against the reference tool.

    python scripts/check_ssimulacra2.py --binary /tmp/ssim2ref/build/ssimulacra2 \\
        --images ../shared/data/kodak --count 5

The reference is the ``ssimulacra2`` binary of github.com/cloudinary/ssimulacra2
(build it outside this repository: ``cmake ../src && make ssimulacra2``; it
needs libhwy-dev, liblcms2-dev, libpng-dev, libjpeg-dev). For each of the first
--count images, several distortions (JPEG, WebP and JPEG XL at a few
qualities, and a blur) are written as PNG and scored by both; the script
prints every pair, the mean and max absolute difference, and with
``--synthetic`` the reference scores of the small synthetic pairs the
tests pin (tests/test_ssimulacra2.py).
"""
from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from codec.evaluation import jxl
from codec.evaluation.ssimulacra2 import ssimulacra2
from codec.image import load_rgb


def distortions(rgb: np.ndarray) -> dict[str, np.ndarray]:
    im = Image.fromarray(rgb)
    out = {}
    for fmt, q in (("JPEG", 15), ("JPEG", 50), ("JPEG", 90), ("WEBP", 30)):
        buf = io.BytesIO()
        im.save(buf, format=fmt, quality=q)
        out[f"{fmt.lower()} q{q}"] = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    if not jxl.missing():
        out["jxl q30"] = jxl.decode(jxl.encode(rgb, 30))
    out["blur r1.5"] = np.asarray(im.filter(ImageFilter.GaussianBlur(1.5)))
    return out


def reference(binary: str, a: np.ndarray, b: np.ndarray, tmp: Path) -> float:
    pa, pb = tmp / "a.png", tmp / "b.png"
    Image.fromarray(a).save(pa)
    Image.fromarray(b).save(pb)
    out = subprocess.run([binary, str(pa), str(pb)], capture_output=True, text=True, check=True).stdout
    return float(out.split()[-1])


def synthetic_pairs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Small deterministic pairs, the same as tests/test_ssimulacra2.py builds."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_ssimulacra2 import PAIRS   # noqa: E402
    return {name: make() for name, make in PAIRS.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--images", type=Path, default=None)
    ap.add_argument("--count", type=int, default=5)
    ap.add_argument("--synthetic", action="store_true", help="print the reference scores of the tests' pairs")
    a = ap.parse_args()
    diffs = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        if a.synthetic:
            for name, (x, y) in synthetic_pairs().items():
                ref, ours = reference(a.binary, x, y, tmp), ssimulacra2(x, y)
                print(f"synthetic {name:24s} reference {ref:10.6f}  ours {ours:10.6f}  diff {ours - ref:+.6f}")
        if a.images:
            for path in sorted(a.images.glob("*.png"))[: a.count]:
                rgb = load_rgb(path, quiet=True)
                for name, dist in distortions(rgb).items():
                    ref, ours = reference(a.binary, rgb, dist, tmp), ssimulacra2(rgb, dist)
                    diffs.append(abs(ours - ref))
                    print(f"{path.name} {name:10s} reference {ref:9.4f}  ours {ours:9.4f}  diff {ours - ref:+.4f}")
    if diffs:
        print(f"{len(diffs)} pairs: mean |diff| {np.mean(diffs):.4f}, max {np.max(diffs):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
