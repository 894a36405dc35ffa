"""Compare training recipes at equal process CPU time, scored on held-out real files.

Each recipe runs in its own process with one thread. A probe of a few steps
measures that recipe's own CPU seconds per step (its crops, its batch, its
quantizer), which sets its step count for the budget; schedules are given as
fractions of the run, so every recipe gets its full schedule. The score is
codec/training/heldout.py on the fixed held-out images (configs/holdout.txt):
the trained weights exported to the shipped fp16 form and coded through real
files, loss = lambda * MSE_255 + bpp.

    python scripts/recipe_study.py /work/shared/data/train --cpu-minutes 15 \
        --recipes noise,mixed --init checkpoints/mean-scale-q3.pt --out runs/study
    python scripts/recipe_study.py --table runs/study

``--init`` warm-starts every recipe from a checkpoint (the campaign's
situation); without it the recipes train from scratch. ``--base`` takes the
model and data of a training config (e.g. a campaign job's, such as the
variable-rate ``configs/campaign/mean-scale-vr.toml``); the recipe then sets
only the schedule, quantizer, batch and crop. Without it the model is the
fixed-rate mean-scale q3 (N 128, M 192, lambda 0.0067) on 128² crops.

    python scripts/recipe_study.py /work/shared/data/train --cpu-minutes 30 --parallel 2 \
        --base configs/campaign/mean-scale-vr.toml --init checkpoints/mean-scale-vr.pt \
        --recipes mixed-1e-4-cosine,mixed-3e-5-cosine,2x256-1e-4-cosine,8x256-1e-4-cosine --out runs/study-vr SIGTERM to a recipe's
process ends its training early (the trainer saves) and it is scored at the
step it reached.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: recipe name -> (description, train overrides; *_frac keys are fractions of the run's steps)
RECIPES: dict[str, tuple[str, dict]] = {
    "current": ("8x128², Adam 5e-4, x0.2 at 72/92 %, noise",
                {"lr": 5e-4, "lr_schedule": "step", "milestones_frac": [0.72, 0.92], "lr_gamma": 0.2,
                 "quantizer": "noise"}),
    "mixed": ("8x128², Adam 5e-4, x0.2 at 72/92 %, mixed quantization",
              {"lr": 5e-4, "lr_schedule": "step", "milestones_frac": [0.72, 0.92], "lr_gamma": 0.2,
               "quantizer": "mixed"}),
    "lr1e-3-cosine": ("8x128², Adam 1e-3, 5 % warm-up, cosine to 1e-5 over the last 15 %, noise",
                      {"lr": 1e-3, "lr_schedule": "cosine", "warmup_frac": 0.05, "decay_from_frac": 0.85,
                       "lr_min": 1e-5, "quantizer": "noise"}),
    "2x256": ("2x256² (same pixels/step), Adam 5e-4, x0.2 at 72/92 %, noise",
              {"lr": 5e-4, "lr_schedule": "step", "milestones_frac": [0.72, 0.92], "lr_gamma": 0.2,
               "quantizer": "noise", "batch": 2, "crop": 256}),
    # warm-started variants: the campaign's question (continue the shipped model at a low rate)
    "noise-1e-4": ("8x128², Adam 1e-4 constant, noise (the interim campaign run)",
                   {"lr": 1e-4, "lr_schedule": "constant", "quantizer": "noise"}),
    "mixed-1e-4-cosine": ("8x128², Adam 1e-4, cosine to 1e-5 over the last 40 %, mixed (the campaign job)",
                          {"lr": 1e-4, "lr_schedule": "cosine", "decay_from_frac": 0.6, "lr_min": 1e-5,
                           "quantizer": "mixed"}),
    "mixed-3e-5-cosine": ("8x128², Adam 3e-5, cosine to 3e-6 over the last 40 %, mixed (a gentler restart)",
                          {"lr": 3e-5, "lr_schedule": "cosine", "decay_from_frac": 0.6, "lr_min": 3e-6,
                           "quantizer": "mixed"}),
    "2x256-1e-4-cosine": ("2x256² (same pixels/step, 4x4 hyper-latent grid), Adam 1e-4, cosine to 1e-5 "
                          "over the last 40 %, mixed",
                          {"lr": 1e-4, "lr_schedule": "cosine", "decay_from_frac": 0.6, "lr_min": 1e-5,
                           "quantizer": "mixed", "batch": 2, "crop": 256}),
    "8x256-1e-4-cosine": ("8x256² (4x the pixels/step), Adam 1e-4, cosine to 1e-5 over the last 40 %, mixed",
                          {"lr": 1e-4, "lr_schedule": "cosine", "decay_from_frac": 0.6, "lr_min": 1e-5,
                           "quantizer": "mixed", "batch": 8, "crop": 256}),
    # precision: 'auto' (every recipe above) is bf16 autocast where the CPU has
    # bf16 units (AMX / AVX512-BF16) and fp32 elsewhere; this one forces fp32,
    # to price bf16 at equal CPU time on such a CPU
    "mixed-1e-4-cosine-fp32": ("as mixed-1e-4-cosine, fp32 (no autocast)",
                               {"lr": 1e-4, "lr_schedule": "cosine", "decay_from_frac": 0.6, "lr_min": 1e-5,
                                "quantizer": "mixed", "precision": "fp32"}),
}


def make_config(train_dir: str, out: Path, recipe: str, steps: int, init: str, seed: int, base: str = ""):
    """The recipe's training config: the model and data of ``base`` (a config
    file) or of the fixed-rate q3 model, the recipe's schedule on top."""
    from codec.training import config
    if base:
        cfg = config.load(base)
    else:
        cfg = config.Config()
        cfg.model.name, cfg.model.N, cfg.model.M, cfg.model.quality = "mean-scale", 128, 192, 3
        cfg.data.crop, cfg.train.lmbda = 128, 0.0067
    cfg.data.train, cfg.data.holdout_files = train_dir, str(ROOT / "configs" / "holdout.txt")
    t = cfg.train
    t.batch, t.steps, t.seed, t.threads, t.precision = 8, steps, seed, 1, "auto"
    t.warmup, t.start_step, t.stop_at, t.lr_milestones = 0, 0, 0, []
    t.init, t.out, t.export = init, str(out), ""
    t.log_every, t.val_every, t.image_every, t.ckpt_every = 50, 10 ** 9, 10 ** 9, 10 ** 9
    for k, v in RECIPES[recipe][1].items():
        if k == "crop":
            cfg.data.crop = v
        elif k == "milestones_frac":
            t.lr_milestones = [int(f * steps) for f in v]
        elif k.endswith("_frac"):
            setattr(t, k[:-5], int(v * steps))
        else:
            setattr(t, k, v)
    return cfg


def run_one(a) -> None:
    """One recipe in this process: probe, train to the budget, score."""
    import torch
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    from codec import checkpoint as ckpt_io
    from codec.training import heldout
    from codec.training.train import Trainer
    out = Path(a.out) / a.recipe
    quiet = (lambda s: None)
    probe = Trainer(make_config(a.train, out / "probe", a.recipe, 10 ** 6, a.init, a.seed, a.base), log=quiet)
    for _ in range(2):
        probe.train_step()  # warm-up: allocator, oneDNN kernels
    c0 = time.process_time()
    for _ in range(a.probe_steps):
        probe.train_step()
    s_per_step = (time.process_time() - c0) / a.probe_steps
    del probe
    steps = max(10, int(a.cpu_minutes * 60 / s_per_step))
    tr = Trainer(make_config(a.train, out / "run", a.recipe, steps, a.init, a.seed, a.base), log=quiet)
    c0, w0 = time.process_time(), time.time()
    last = tr.run()
    cpu = time.process_time() - c0
    score = heldout.score(ckpt_io.load(last), heldout.heldout_paths(a.train, ROOT / "configs" / "holdout.txt"))
    res = {"recipe": a.recipe, "description": RECIPES[a.recipe][0], "init": a.init or "scratch",
           "base": a.base or "mean-scale q3", "model": tr.cfg.model.name,
           "precision": str(tr.amp or "fp32").replace("torch.", ""),
           "steps": tr.step, "planned_steps": steps,  # fewer when stopped early by SIGTERM
           "probe_cpu_s_per_step": round(s_per_step, 4), "train_cpu_min": round(cpu / 60, 2),
           "wall_min": round((time.time() - w0) / 60, 1), "steps_per_cpu_s": round(tr.step / cpu, 4),
           **{f"heldout_{k}": v for k, v in score.to_dict().items()}}
    (out / "result.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res))


def table(folder: str) -> str:
    rows = [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*/result.json"))]
    rows.sort(key=lambda r: r["heldout_loss"])
    md = ["| recipe | model | precision | start | steps | CPU-min | steps/CPU-s | held-out loss | bpp | PSNR (dB) |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    md += [f"| {r['description']} | {r.get('model', 'mean-scale')} | {r.get('precision', '?')} | {r['init']} | {r['steps']} | {r['train_cpu_min']} | "
           f"{r['steps_per_cpu_s']} | "
           f"{r['heldout_loss']:.4f} | {r['heldout_bpp']:.4f} | {r['heldout_psnr']:.2f} |" for r in rows]
    return "\n".join(md)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("train", nargs="?", help="training pool (never Kodak)")
    ap.add_argument("--recipes", default="current,mixed")
    ap.add_argument("--cpu-minutes", type=float, default=15.0, help="training CPU per recipe")
    ap.add_argument("--probe-steps", type=int, default=6)
    ap.add_argument("--init", default="", help="warm start every recipe from this checkpoint")
    ap.add_argument("--base", default="", help="take the model and data of this training config")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/study")
    ap.add_argument("--parallel", type=int, default=1, help="recipes run at once (one thread each)")
    ap.add_argument("--table", metavar="FOLDER", help="print the Markdown table of a finished study")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.table:
        print(table(a.table))
        return 0
    if not a.train:
        ap.error("the training folder is required")
    if a.one:
        a.recipe = a.one
        run_one(a)
        return 0
    names = [r for r in a.recipes.split(",") if r]
    unknown = [r for r in names if r not in RECIPES]
    if unknown:
        print(f"recipe_study: unknown recipe '{unknown[0]}' (known: {', '.join(RECIPES)})", file=sys.stderr)
        return 2
    pending, running = list(names), []
    while pending or running:
        while pending and len(running) < a.parallel:
            r = pending.pop(0)
            argv = [sys.executable, __file__, a.train, "--one", r, "--cpu-minutes", str(a.cpu_minutes),
                    "--probe-steps", str(a.probe_steps), "--init", a.init, "--base", a.base, "--seed", str(a.seed), "--out", a.out]
            running.append(subprocess.Popen(argv, cwd=ROOT))
        time.sleep(5)
        running = [p for p in running if p.poll() is None]
    print(table(a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
