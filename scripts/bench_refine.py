"""Refinement steps per second on one image: the baseline loop (the model's
own inverse GDNs under autograd, fp32) against the fused IGDN backward in
fp32 and under bf16 autocast (what ``precision="auto"`` picks on a CPU with
bf16 units), alternated in one run so all see the same machine.

    python scripts/bench_refine.py --image ../shared/data/kodak/kodim23.png --steps 10 --repeats 3 --threads 1

Each repeat runs ``codec.refine.refine`` for --steps steps with early stop off
(the real loop: relaxed forward, backward, Adam, the hard-rounded checks) and
records wall and CPU (process) seconds; printed: the median of the repeats,
as steps per second and CPU-seconds per step. Pause the training campaign
while timing (python scripts/campaign.py pause / resume).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from codec import api, refine
from codec.image import load_rgb, to_tensor
from codec.precision import cpu_supports_bf16

ROOT = Path(__file__).resolve().parents[1]


VARIANTS = {"baseline": (False, "fp32"), "fused": (True, "fp32"), "fused-bf16": (True, "bf16")}


def one(model, rgb, steps: int, fused: bool, precision: str = "fp32") -> tuple[float, float]:
    x = api.pad(to_tensor(rgb), model.net.geometry(*rgb.shape[:2]).stride)
    with torch.inference_mode():
        model.set_rate(model.rate_setting(None))
        start = model.net.encode_latents(x.contiguous(memory_format=torch.channels_last))
    t, c = time.perf_counter(), time.process_time()
    r = refine.refine(model.net, to_tensor(rgb), start, model.lmbda, steps, patience=10 ** 9, fused=fused,
                      precision=precision)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    assert r.steps == steps
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", required=True, help="e.g. ../shared/data/kodak/kodim23.png (768x512)")
    ap.add_argument("--checkpoint", default=str(ROOT / "checkpoints/mean-scale-q3.pt"))
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--only", choices=tuple(VARIANTS), default=None, help="time one variant only")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    model = api.load_model(a.checkpoint, device="cpu")
    rgb = load_rgb(a.image, quiet=True)
    variants = dict(VARIANTS)
    if not cpu_supports_bf16():
        del variants["fused-bf16"]        # emulated: many times slower, never picked by "auto"
    if a.only:
        variants = {a.only: variants[a.only]}
    for fused, precision in variants.values():                # warm-up (oneDNN primitives, allocator)
        one(model, rgb, 2, fused, precision)
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
    for _ in range(a.repeats):
        for name, (fused, precision) in variants.items():     # alternated: same machine state for all
            times[name].append(one(model, rgb, a.steps, fused, precision))
    h, w = rgb.shape[:2]
    print(f"{Path(a.image).name} {w}x{h}, {Path(a.checkpoint).name}, {torch.get_num_threads()} torch thread(s), "
          f"{a.steps} steps x {a.repeats} repeats (median)")
    print("| loop | steps/s (wall) | CPU-s per step | wall-s per step |")
    print("| --- | ---: | ---: | ---: |")
    for name, ts in times.items():
        wall = statistics.median(t[0] for t in ts) / a.steps
        cpu = statistics.median(t[1] for t in ts) / a.steps
        print(f"| {name} | {1 / wall:.3f} | {cpu:.3f} | {wall:.3f} |")


if __name__ == "__main__":
    main()
