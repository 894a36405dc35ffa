"""Argument parsing for ``codec eval``; the work is codec.evaluation.evaluate.run.

    codec eval ../shared/data/kodak --models mean-scale,hyperprior,factorized \\
        --codecs jpeg,webp,jpeg2000,avif,hevc,jxl --out results/kodak
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..limits import REFINE_MAX


def _names(text: str) -> tuple[str, ...]:
    """'a,b' -> ('a', 'b'); 'none' or '' -> () (e.g. --models none: codecs only)."""
    items = tuple(s.strip() for s in text.split(",") if s.strip())
    return () if items in ((), ("none",)) else items


def _qualities(text: str) -> tuple[float, ...]:
    """'1,2.5,4' -> (1.0, 2.5, 4.0): integers name shipped fixed-rate checkpoints,
    reals are points of a variable-rate model."""
    try:
        out = tuple(float(s) for s in _names(text))
    except ValueError:
        out = ()
    if not out or not all(math.isfinite(q) for q in out):
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got '{text}'")
    return out


def _steps(text: str) -> tuple[int, ...]:
    try:
        out = tuple(int(s) for s in _names(text))
    except ValueError:
        out = ()
    if not out or not all(0 <= n <= REFINE_MAX for n in out):
        raise argparse.ArgumentTypeError(f"expected comma-separated step counts in 0..{REFINE_MAX}, got '{text}'")
    return out


def cmd_eval(a) -> None:
    # evaluate pulls in matplotlib, SciPy and the classical codecs; imported
    # when the command runs so that `codec compress` does not pay for it.
    from .evaluate import EvalConfig, run
    folder = Path(a.folder)
    cfg = EvalConfig(folder=folder, out=Path(a.out) if a.out else Path("results") / (folder.resolve().name or "eval"),
                     models=a.models, qualities=a.qualities, refine=a.refine or (), codecs=a.codecs, anchors=a.anchors,
                     published=a.published, workers=a.workers, limit=a.limit, device=a.device,
                     progress=not a.quiet, html_images=a.html_images)
    res = run(cfg)
    print(f"{res.computed} entries coded, {res.reused} reused from {cfg.out / 'results.csv'}; "
          f"summary: {cfg.out / 'summary.md'}", file=sys.stderr)


def add_commands(subparsers) -> None:
    e = subparsers.add_parser(
        "eval", help="rate-distortion curves of models and classical codecs on a folder of images",
        description="Code every image of FOLDER with every shipped checkpoint and a quality sweep of each "
                    "classical codec, through real files; write results.csv, curves/*.json, summary.md "
                    "with BD-rates and a complexity table, psnr.png / msssim_db.png / ssimulacra2.png, and a self-contained "
                    "report.html to look at the images, under --out. Rerunning with the same "
                    "--out resumes, skipping finished entries.")
    e.add_argument("folder", help="folder of images (e.g. the 24 Kodak PNGs)")
    e.add_argument("--models", type=_names, default=None,
                   help="comma-separated model names, or 'none' (default: every model with a checkpoint)")
    e.add_argument("--qualities", type=_qualities, default=None,
                   help="comma-separated qualities: for fixed-rate models the integer indices of shipped "
                        "checkpoints (default: all), for a variable-rate model (<family>-vr) real numbers in its "
                        "range, put on the 1/256 grid (default: 7 points evenly over its range)")
    e.add_argument("--refine", type=_steps, default=None, metavar="N[,N...]",
                   help="also code every learned point with N steps of encode-time latent refinement: one more "
                        "curve per model and N (named <model>+refine<N>), BD-rated against the unrefined curve too")
    e.add_argument("--codecs", type=_names, default=None,
                   help="classical codecs: jpeg (4:2:0 and 4:4:4), jpeg-420, jpeg-444, webp, jpeg2000, avif, "
                        "avif-420, hevc (4:4:4), hevc-420, jxl, or 'none' (default: jpeg,webp,jpeg2000,avif,hevc,jxl "
                        "where the library is present)")
    e.add_argument("--anchors", type=_names, default=None,
                   help="curves to report BD-rates against: codecs (run if not listed), models, or "
                        "compressai:<published curve> (default: jpeg-420,hevc-444,jxl)")
    e.add_argument("--published", type=_names, default=None,
                   help="CompressAI curves to draw, or 'none' (default: those of the evaluated architectures)")
    e.add_argument("--out", help="output folder (default: results/<folder name>)")
    e.add_argument("--workers", type=int, default=None,
                   help="processes for the classical codecs (default: CPU count; 1 for quotable timings)")
    e.add_argument("--limit", type=int, default=None, help="use only the first N images (sorted by name)")
    e.add_argument("--device", default=None, help="device for the learned models (default: CUDA when present)")
    e.add_argument("--html-images", type=int, default=3, metavar="N",
                   help="images shown in report.html, coded by every curve at our rate (default 3; 0: no report.html)")
    e.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=cmd_eval)
