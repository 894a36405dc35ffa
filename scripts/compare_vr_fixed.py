"""Issue 11, item 6: what does one variable-rate model cost against a
fixed-rate model at one lambda, at equal CPU time?

    python scripts/compare_vr_fixed.py train --init /tmp/ms-q3-head.pt --out /work/runs-vr \
        --cpu-s 1500 --steps 2000
    python scripts/compare_vr_fixed.py score --init /tmp/ms-q3-head.pt --out /work/runs-vr

``train`` runs two trainings side by side, both warm-started from the same
fixed-rate mean-scale checkpoint, same recipe and data (the campaign's:
configs/campaign/mean-scale-q3.toml and configs/campaign/mean-scale-vr.toml,
the schedule scaled to ``--steps``, one thread each, at nice 10): ``fixed``
at quality 3 (lambda 0.0067) and ``vr`` over q1..q5. Each is stopped with
SIGTERM (it saves last.pt) when its own process CPU time (user + system)
reaches ``--cpu-s``, or at ``--steps``. ``score`` exports both to the shipped
fp16 form and codes the fixed held-out images (configs/holdout.txt) through
real files: the fixed model at its quality, the variable-rate model at
qualities 2.5..3.5 in 1/8 steps, and the warm-start weights (the start
point of both: the variable-rate model starts there at q = 3). The result is the
PSNR of the variable-rate curve at the fixed model's held-out bpp (linear
interpolation in bpp-PSNR) minus the fixed model's PSNR, written to
``<out>/compare.json`` with every point.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codec import api  # noqa: E402
from codec.training import heldout  # noqa: E402
from codec.training.campaign import proc_cpu_s  # noqa: E402
from codec.training.train import export  # noqa: E402

RUNS = {"fixed": "configs/campaign/mean-scale-q3.toml", "vr": "configs/campaign/mean-scale-vr.toml"}
SWEEP = [2.5 + k / 8 for k in range(9)]   # 2.5 .. 3.5


def cmd_train(a) -> None:
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    procs = {}
    for name, cfg in RUNS.items():
        sets = [f"train.init={a.init}", f"train.out={out / name}", f"train.steps={a.steps}",
                f"train.decay_from={int(0.6 * a.steps)}", "train.threads=1", "train.export=",
                "train.val_every=1000000", "train.ckpt_every=100", "train.log_every=50",
                f"train.seed={a.seed}", f"data.train={a.train_folder}"]
        argv = [sys.executable, "-m", "codec.cli", "train", "--config", cfg]
        argv += [x for s in sets for x in ("--set", s)]
        log = open(out / f"{name}.log", "a")
        log.write(" ".join(argv) + "\n")
        log.flush()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        procs[name] = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       preexec_fn=lambda: os.nice(10))
    used, stopped = {}, set()
    while any(p.poll() is None for p in procs.values()):
        for name, p in procs.items():
            if p.poll() is None:
                used[name] = proc_cpu_s(p.pid)
                if used[name] >= a.cpu_s and name not in stopped:
                    os.kill(p.pid, signal.SIGTERM)   # finish the step, save last.pt, exit
                    stopped.add(name)
        time.sleep(1.0)
    facts = {}
    for name, p in procs.items():
        ru = json.loads((out / name / "last.json").read_text())
        facts[name] = {"exit": p.returncode, "cpu_s_at_stop": round(used.get(name, 0.0), 1),
                       "stopped_at_cpu_budget": name in stopped, "step": ru["step"]}
    (out / "train.json").write_text(json.dumps({"cpu_s_budget": a.cpu_s, "steps": a.steps, "init": a.init,
                                                "runs": facts}, indent=1) + "\n")
    print(json.dumps(facts))


def psnr_at(points: list[dict], bpp: float) -> float | None:
    """PSNR of a bpp-PSNR curve at ``bpp`` (linear interpolation); None outside it."""
    pts = sorted((p["bpp"], p["psnr"]) for p in points)
    if not pts[0][0] <= bpp <= pts[-1][0]:
        return None
    return float(np.interp(bpp, [b for b, _ in pts], [d for _, d in pts]))


def cmd_score(a) -> None:
    out = Path(a.out)
    paths = heldout.heldout_paths(a.train_folder, a.holdout)
    t0 = time.process_time()
    models_ = {name: export(out / name / "last.pt", out / f"{name}.pt") for name in RUNS}
    fixed = heldout.score_file(models_["fixed"], paths)
    vr = heldout.score_at(api.load_model(models_["vr"], device="cpu"), paths, SWEEP)
    start_fixed = heldout.score_file(a.init, paths)
    vr_pts = [p.to_dict() for p in vr]
    at = psnr_at(vr_pts, fixed.bpp)
    result = {
        "command": " ".join(sys.argv),
        "holdout": f"{len(paths)} images of {a.holdout}",
        "train": json.loads((out / "train.json").read_text()) if (out / "train.json").is_file() else None,
        "fixed": fixed.to_dict(),
        "vr_curve": vr_pts,
        "vr_psnr_at_fixed_bpp": at,
        "delta_psnr_db": None if at is None else round(at - fixed.psnr, 4),
        # the warm-start weights; the variable-rate run starts from the same
        # file at q = 3 (gains 1: the same files, tests/test_train_variable_rate.py)
        "start": start_fixed.to_dict(),
        "scoring_cpu_s": round(time.process_time() - t0, 1),
    }
    (out / "compare.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("fixed", "vr_psnr_at_fixed_bpp", "delta_psnr_db")}, indent=1))
    print(json.dumps({"start": result["start"]}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("train", "score"):
        p = sub.add_parser(name)
        p.add_argument("--train-folder", default=str(ROOT.parent / "shared" / "data" / "train"))
        p.add_argument("--init", required=True, help="the fixed-rate mean-scale q3 checkpoint both start from")
        p.add_argument("--out", required=True, help="folder of the two runs (outside git)")
    tr = sub.choices["train"]
    tr.add_argument("--cpu-s", type=float, default=1500.0)
    tr.add_argument("--steps", type=int, default=2000)
    tr.add_argument("--seed", type=int, default=3, help="the same crop stream seed for both runs")
    sc = sub.choices["score"]
    sc.add_argument("--holdout", default=str(ROOT / "configs" / "holdout.txt"))
    a = ap.parse_args()
    {"train": cmd_train, "score": cmd_score}[a.cmd](a)


if __name__ == "__main__":
    main()
