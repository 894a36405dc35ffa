"""What encode-time latent refinement buys (issue 13): one model, a set of
images, a list of step counts N (and, for a variable-rate model, qualities).

    # measure (appends to the CSV, one flushed row per image x N x quality; a rerun skips done rows)
    nice -n 10 python scripts/measure_refine.py --checkpoint checkpoints/mean-scale-q3.pt \\
        --images ../shared/data/kodak --steps 0,25,50,100,200 --threads 1 --csv docs/results/refine_subset_q3.csv
    # a variable-rate model at several qualities
    python scripts/measure_refine.py --checkpoint checkpoints/mean-scale-vr.pt --qualities 1,2,3,4,5 ...
    # summary: mean table per N (markdown), BD-rate of each N against N = 0 (--subset all: every image)
    python scripts/measure_refine.py --csv docs/results/refine_subset_q3.csv --summary

Each row is a real file: bpp from its length, PSNR and MS-SSIM of the decoded
image, the rate-distortion loss lambda * MSE_255 + bpp at the lambda
refinement optimizes (the checkpoint's train.lmbda; for a variable-rate model
the lambda of the quality), encode wall and CPU (process) seconds of
``api.compress_full`` (refinement, coding, the reconstruction and the
refinement guard), decode seconds, and whether the decode equals the
encoder's reconstruction. Rows are keyed by the weights' digest, image,
quality and N: rows of other weights in the same CSV are kept, never mixed.

Summary: for every quality and N, means over the images measured at that N
and at N = 0 (paired, so a partial run compares like with like); with
several qualities, the BD-rate (PSNR) of each N's curve against N = 0; for a refined point of a variable-rate model whose
N = 0 curve has several qualities in the CSV, the rate saving at equal PSNR
against that curve (log-rate interpolated linearly in PSNR). The BD and
equal-PSNR figures use each curve's own means: they pair images only once
every N covers the same images (a complete run).
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from collections import defaultdict
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import numpy as np

DEFAULT_SUBSET = ("kodim01", "kodim04", "kodim08", "kodim14", "kodim19", "kodim23")


@dataclass(frozen=True)
class Row:
    digest: str
    model: str
    image: str
    quality: str          # as a string, exactly as written ("3", "2.5")
    refine: int
    height: int
    width: int
    bytes: int
    bpp: float
    psnr: float
    ms_ssim: float
    lmbda: float
    rd_loss: float        # lambda * MSE_255 + bpp of the decoded file
    enc_wall_s: float
    enc_cpu_s: float
    dec_s: float
    decode_ok: int
    precision: str = "fp32"   # of the relaxed refinement steps (codec.refine); a CSV without the column: fp32

    @property
    def key(self) -> tuple[str, str, str, int, str]:
        return self.digest, self.image, self.quality, self.refine, self.precision


FIELDS = tuple(f.name for f in fields(Row))
_CONV = {"str": str, "int": int, "float": float}


def read_rows(path: Path) -> list[Row]:
    """Rows of the CSV (a last line cut by an interruption is ignored)."""
    if not path.exists() or not path.stat().st_size:
        return []
    text = path.read_text()
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    lines = list(csv.reader(text.splitlines()))
    if tuple(lines[0]) not in (FIELDS, FIELDS[:-1]):   # FIELDS[:-1]: written before the precision column
        raise SystemExit(f"measure_refine: {path} has another layout (header {lines[0][:4]}...)")
    kinds = [f.type for f in fields(Row)]
    return [Row(*(_CONV[k](v) for k, v in zip(kinds, vals))) for vals in lines[1:]]


class Appender:
    """The CSV, opened for appending one flushed row at a time (header if new,
    a cut last line dropped first)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size:
            text = path.read_text()
            if not text.endswith("\n"):
                text = text[: text.rfind("\n") + 1]
            if text.split("\n", 1)[0] == ",".join(FIELDS[:-1]):   # an older CSV: add the precision column
                rows = text.rstrip("\n").split("\n")
                text = "\n".join([",".join(FIELDS)] + [r + ",fp32" for r in rows[1:]]) + "\n"
            path.write_text(text)
        else:
            path.write_text(",".join(FIELDS) + "\n")
        self.f = open(path, "a", newline="")
        self.w = csv.writer(self.f, lineterminator="\n")

    def add(self, row: Row) -> None:
        self.w.writerow([repr(v) if isinstance(v, float) else v for v in astuple(row)])
        self.f.flush()


def quality_text(q: float) -> str:
    return str(int(q)) if float(q).is_integer() else repr(float(q))


def measure(a) -> None:
    import torch
    from codec import api, metrics
    from codec.image import load_rgb
    from codec.models.variable_rate import lmbda_at
    from codec.precision import autocast_dtype

    if a.threads:
        torch.set_num_threads(a.threads)
    model = api.load_model(a.checkpoint, device="cpu")
    variable = model.quality_range is not None
    qualities = [model.rate_setting(q) for q in a.qualities] if a.qualities else [model.rate_setting(None)]
    folder = Path(a.images)
    subset = a.subset or ",".join(DEFAULT_SUBSET)
    names = None if subset == "all" else [s.strip() for s in subset.split(",") if s.strip()]
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png" and (names is None or p.stem in names))
    if names is not None and len(images) != len(names):
        missing = sorted(set(names) - {p.stem for p in images})
        raise SystemExit(f"measure_refine: not in {folder}: {', '.join(missing)}")
    digest = model.digest.hex()
    done = {r.key for r in read_rows(Path(a.csv))}
    out = Appender(Path(a.csv))
    precision = "fp32" if autocast_dtype(a.precision, torch.device("cpu")) is None else "bf16"
    todo = [(q, n, p) for n in a.steps for q in qualities for p in images
            if (digest, p.name, quality_text(q), n, precision if n else "fp32") not in done]
    print(f"{len(todo)} to measure, {len(images) * len(qualities) * len(a.steps) - len(todo)} already in {a.csv}; "
          f"{model.name} {digest}, {torch.get_num_threads()} torch thread(s), refinement in {precision}",
          file=sys.stderr, flush=True)
    for i, (q, n, p) in enumerate(todo):
        rgb = load_rgb(p, quiet=True)
        h, w = rgb.shape[:2]
        lm = lmbda_at(q) if variable else model.lmbda
        t, c = time.perf_counter(), time.process_time()
        full = api.compress_full(rgb, model, quality=q, refine=n, progress=a.progress,
                                 refine_precision=precision)
        enc_wall, enc_cpu = time.perf_counter() - t, time.process_time() - c
        t = time.perf_counter()
        rec = api.decompress(full.data, model)
        dec = time.perf_counter() - t
        b = metrics.bpp(len(full.data), h, w)
        row = Row(digest, model.name, p.name, quality_text(q), n, h, w, len(full.data), b, metrics.psnr(rgb, rec),
                  metrics.ms_ssim(rgb, rec), lm, lm * metrics.mse8(rec, rgb) + b, enc_wall, enc_cpu, dec,
                  int(np.array_equal(rec, full.reconstruction)), precision if n else "fp32")
        out.add(row)
        print(f"[{i + 1}/{len(todo)}] {p.name} q{row.quality} N={n}: {b:.4f} bpp {row.psnr:.2f} dB "
              f"loss {row.rd_loss:.4f}, encode {enc_wall:.1f} s ({enc_cpu:.1f} CPU-s)", file=sys.stderr, flush=True)


def _interp_rate(curve: list[tuple[float, float]], psnr: float) -> float:
    """bpp of an N = 0 curve [(bpp, psnr)] at ``psnr``: log-rate linear in PSNR; NaN outside it."""
    pts = sorted(curve, key=lambda t: t[1])
    ps = [t[1] for t in pts]
    if not ps[0] <= psnr <= ps[-1]:
        return math.nan
    return float(np.exp(np.interp(psnr, ps, [math.log(t[0]) for t in pts])))


def summary(a) -> str:
    from codec.metrics import BDUndefined, bd_rate
    rows = read_rows(Path(a.csv))
    if not rows:
        raise SystemExit(f"measure_refine: no rows in {a.csv}")
    digests = list(dict.fromkeys(r.digest for r in rows))
    digest = a.digest or digests[-1]
    rows = [r for r in rows if r.digest == digest]
    refined = [r.precision for r in rows if r.refine]
    precision = a.precision if a.precision != "auto" else (refined[-1] if refined else "fp32")
    rows = [r for r in rows if not r.refine or r.precision == precision]
    if a.subset and a.subset != "all":
        names = {s.strip() for s in a.subset.split(",") if s.strip()}
        rows = [r for r in rows if Path(r.image).stem in names]
        if not rows:
            raise SystemExit(f"measure_refine: no rows of images {sorted(names)} in {a.csv}")
    by = defaultdict(dict)                       # (quality, N) -> image -> row
    for r in rows:
        by[(r.quality, r.refine)][r.image] = r
    qualities = sorted({q for q, _ in by}, key=float)
    steps = sorted({n for _, n in by})
    lines = [f"{rows[0].model}, weights {digest}, refinement in {precision}, from {a.csv}"
             + (f" (other weights in it: {len(digests) - 1})" if len(digests) > 1 else ""), ""]
    lines += ["| quality | N | images | bpp | PSNR (dB) | MS-SSIM | RD loss | bpp vs N=0 | PSNR vs N=0 | "
              "loss vs N=0 | encode wall-s | encode CPU-s | decode s | decode = encoder |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    means = {}                                   # (quality, N) -> (bpp, psnr) over its images
    for q in qualities:
        for n in steps:
            if (q, n) not in by:
                continue
            # paired with N = 0: the images measured at both (a partial run compares like with like)
            common = set(by[(q, n)]) & set(by[(q, 0)]) if (q, 0) in by else set(by[(q, n)])
            base = [by[(q, 0)][i] for i in sorted(common)] if (q, 0) in by else None
            sel = [by[(q, n)][i] for i in sorted(common)]
            if not sel:
                continue
            m = {k: float(np.mean([getattr(r, k) for r in sel]))
                 for k in ("bpp", "psnr", "ms_ssim", "rd_loss", "enc_wall_s", "enc_cpu_s", "dec_s")}
            means[(q, n)] = (m["bpp"], m["psnr"])
            if base:
                b0 = float(np.mean([r.bpp for r in base]))
                rel = [f"{100 * (m['bpp'] / b0 - 1):+.2f} %",
                       f"{m['psnr'] - float(np.mean([r.psnr for r in base])):+.3f} dB",
                       f"{100 * (m['rd_loss'] / float(np.mean([r.rd_loss for r in base])) - 1):+.2f} %"]
            else:
                rel = ["—"] * 3
            ok = "yes" if all(r.decode_ok for r in sel) else "**NO**"
            lines.append(f"| {q} | {n} | {len(sel)} | {m['bpp']:.4f} | {m['psnr']:.3f} | {m['ms_ssim']:.4f} | "
                         f"{m['rd_loss']:.4f} | " + " | ".join(rel) +
                         f" | {m['enc_wall_s']:.1f} | {m['enc_cpu_s']:.1f} | {m['dec_s']:.2f} | {ok} |")
    zero_qs = [q for q in qualities if (q, 0) in means]
    if len(zero_qs) >= 2:                        # an N = 0 curve: BD-rate per N, and every point against it
        anchor = [means[(q, 0)] for q in zero_qs]
        lines += ["", "| N | qualities | BD-rate (PSNR) against N = 0 |", "| ---: | --- | ---: |"]
        for n in steps[1:]:
            qs = [q for q in qualities if (q, n) in means]
            pts = [means[(q, n)] for q in qs]
            try:
                v = f"{bd_rate([p[0] for p in anchor], [p[1] for p in anchor], [p[0] for p in pts], [p[1] for p in pts]):+.2f} %"
            except BDUndefined as e:
                v = f"n/a ({e})"
            lines.append(f"| {n} | {', '.join(qs)} | {v} |")
        zero = [means[(q, 0)] for q in zero_qs]
        lines += ["", "| quality | N | rate saving at equal PSNR against the N = 0 curve |", "| --- | ---: | ---: |"]
        for (q, n), (b, p) in sorted(means.items(), key=lambda t: (float(t[0][0]), t[0][1])):
            if n:
                r0 = _interp_rate(zero, p)
                lines.append(f"| {q} | {n} | " + ("outside the curve" if math.isnan(r0) else
                                                f"{100 * (1 - b / r0):.2f} %") + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", required=True, help="the incremental results CSV (e.g. docs/results/refine_subset_q3.csv)")
    ap.add_argument("--summary", action="store_true", help="print the mean table of the CSV and stop")
    ap.add_argument("--digest", help="summary: the weights to summarize (default: the last in the CSV)")
    ap.add_argument("--checkpoint", default="checkpoints/mean-scale-q3.pt")
    ap.add_argument("--images", help="folder of PNG images (e.g. ../shared/data/kodak)")
    ap.add_argument("--subset", default=None,
                    help="image stems, or 'all' (measure them, default the fixed 6-image subset; "
                         "--summary: summarize only their rows, default every image)")
    ap.add_argument("--steps", default="0,25,50,100,200", help="comma-separated refinement step counts")
    ap.add_argument("--qualities", default=None, help="variable-rate model: comma-separated qualities")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--progress", action="store_true", help="a progress bar per refinement")
    # the choices of codec.precision.CPU_PRECISIONS, written out: torch is imported only when measuring
    ap.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                    help="of the relaxed refinement steps (auto: bf16 on a CPU with bf16 units); "
                         "--summary: the refined rows to summarize (auto: those of the last refined row)")
    a = ap.parse_args(argv)
    if a.summary:
        print(summary(a))
        return
    if not a.images:
        ap.error("--images is required to measure")
    try:
        a.steps = [int(s) for s in a.steps.split(",")]
        a.qualities = [float(s) for s in a.qualities.split(",")] if a.qualities else None
    except ValueError:
        ap.error("--steps takes integers, --qualities numbers, comma-separated")
    measure(a)


if __name__ == "__main__":
    main()
