"""Peak memory (RSS) and CPU time of `codec compress` / `codec decompress`,
each in its own process under /usr/bin/time -v, for a few image sizes.

    python scripts/measure_memory.py                          # 768x512, 4096x4096, 16384x1024
    python scripts/measure_memory.py --sizes 768x512 --checkpoint checkpoints/mean-scale-q3.pt

Images are synthetic (smooth + noise, like tests' natural_like); the default
model is the shipped one. The figures feed the pixel limit in codec.limits.
The last size one past the limit checks that it is refused cheaply.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def synthetic(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy = np.arange(h, dtype=np.float32)[:, None]
    xx = np.arange(w, dtype=np.float32)[None, :]
    out = np.empty((h, w, 3), np.uint8)
    for c in range(3):
        v = 127 + 80 * np.sin(xx / 9.0 + c) * np.cos(yy / 13.0 - c) + rng.normal(0, 6, (h, w)).astype(np.float32)
        out[..., c] = np.clip(v, 0, 255)
    return out


def timed(cmd: list[str]) -> dict:
    """Run under /usr/bin/time -v: exit status, peak RSS (GB), user+sys CPU (s), wall (s)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    def field(name):
        m = re.search(rf"{name}: (.+)", r.stderr)
        return m.group(1).strip() if m else "nan"
    wall = field(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\)").split(":")
    secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall)))
    last = [l for l in r.stderr.splitlines() if l.startswith("codec:")]
    return {"rc": r.returncode, "rss_gb": int(field("Maximum resident set size \\(kbytes\\)")) / 1e6 * 1.024,
            "cpu_s": float(field("User time \\(seconds\\)")) + float(field("System time \\(seconds\\)")),
            "wall_s": secs, "msg": last[0] if last else ""}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="*", default=["768x512", "4096x4096", "16384x1024", "4097x4096"])
    p.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "mean-scale-q3.pt"))
    a = p.parse_args()
    py = [sys.executable, "-W", "ignore", "-m", "codec.cli"]
    print("| image | pixels | step | exit | peak RSS GB | CPU s | wall s |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for size in a.sizes:
            w, h = map(int, size.split("x"))
            png, lic, rec = Path(d) / f"{size}.png", Path(d) / f"{size}.lic", Path(d) / f"{size}.rec.png"
            Image.fromarray(synthetic(h, w)).save(png, compress_level=1)
            steps = [("compress", [*py, "compress", str(png), "-o", str(lic), "--checkpoint", a.checkpoint,
                                   "--device", "cpu", "--force"]),
                     ("decompress", [*py, "decompress", str(lic), "-o", str(rec), "--checkpoint", a.checkpoint,
                                     "--device", "cpu", "--force"])]
            for step, cmd in steps:
                if step == "decompress" and not lic.exists():
                    continue
                r = timed(cmd)
                note = f" ({r['msg']})" if r["rc"] else ""
                print(f"| {w}x{h} | {w * h / 1e6:.2f} M | {step} | {r['rc']}{note} | {r['rss_gb']:.2f} | "
                      f"{r['cpu_s']:.1f} | {r['wall_s']:.0f} |", flush=True)
            for f in (png, lic, rec):
                f.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
