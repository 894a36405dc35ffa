"""Measure a shipped checkpoint on Kodak and write its model card.

Codes every image through the real file format with the same per-image step
as `codec eval` (bpp from file sizes, PSNR on 8-bit RGB averaged per image,
MS-SSIM with data range 255, encode time without synthesis), checks each
decode equals the encoder's reconstruction, then writes the card,
<checkpoint>.md, beside it: training facts from the checkpoint's own `card`
(what export and the campaign put there) plus these figures. The .pt itself
is never rewritten.

    python scripts/write_model_card.py checkpoints/mean-scale-q3.pt ../shared/data/kodak \
        --run runs/mean-scale-q3 --run runs/mean-scale-q3-stage2 \
        --command "codec train --config configs/mean-scale-q3.toml"
"""
from __future__ import annotations

import argparse
import json
import re
import warnings
from pathlib import Path

import numpy as np
import torch

from codec import api, checkpoint as ckpt_io
from codec.training import config
from codec.training.data import list_images
from codec.evaluation.evaluate import code_learned
from codec.models.variable_rate import VariableRateConfig, lmbda_at


def measure(path: Path, folder: str) -> dict:
    """Kodak figures of a checkpoint: at its quality (a fixed-rate model), or
    at every anchor of a variable-rate model (``kodak_q<k>_*``), with the
    reference anchor's figures (its default quality) also as ``kodak_*``."""
    m = api.load_model(path, device="cpu")
    r = m.quality_range
    if r is None:
        return _figures(m, folder, None, "kodak_")
    out = {}
    for q in range(r[0], r[1] + 1):
        out.update(_figures(m, folder, float(q), f"kodak_q{q}_"))
    ref = {k.replace(f"kodak_q{m.quality}_", "kodak_"): v for k, v in out.items()
           if k.startswith(f"kodak_q{m.quality}_")}
    return {**ref, "kodak_reference_quality": m.quality, **out}


def _figures(m, folder: str, quality: float | None, prefix: str) -> dict:
    setting = str(m.quality if quality is None else quality)
    rows = [code_learned(m, p, m.name, setting, quality=quality) for p in list_images(folder)]
    bad = [r.image for r in rows if not r.decode_ok]
    if bad:
        raise SystemExit(f"{bad[0]}: decode differs from the encoder's reconstruction")
    v = {k: float(np.mean([getattr(r, k) for r in rows]))
         for k in ("bpp", "est_bpp", "psnr", "ms_ssim", "enc_s", "dec_s")}
    figures = {"images": len(rows), "bpp": round(v["bpp"], 4), "bpp_model": round(v["est_bpp"], 4),
               "psnr": round(v["psnr"], 3), "ms_ssim": round(v["ms_ssim"], 5),
               "encode_s": round(v["enc_s"], 3), "decode_s": round(v["dec_s"], 3)}
    return {prefix + k: x for k, x in figures.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("kodak")
    ap.add_argument("--run", action="append", default=[],
                    help="run folder: steps and wall time are read from its TensorBoard log; "
                         "repeat it for a model trained in stages (train.init), first stage first")
    ap.add_argument("--command", default="")
    ap.add_argument("--data", default="../shared/data/train (257 photos, 8 held out; never Kodak)")
    ap.add_argument("--device-name", default=f"CPU ({torch.get_num_threads()} threads)")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    path = Path(a.checkpoint)
    c = ckpt_io.load(path)
    cfg = config.from_dict(c.config)
    card = dict(c.card)
    variable = isinstance(cfg.model, VariableRateConfig)
    lam = config.lambda_description(cfg)
    card.update({"model": c.model, "N": cfg.model.N, "M": cfg.model.M, "quality": cfg.model.quality,
                 "lambda": lam, "data": a.data, "device": a.device_name, "command": a.command,
                 "crop": cfg.data.crop, "batch": cfg.train.batch, "lr": cfg.train.lr,
                 "lr_milestones": cfg.train.lr_milestones})
    if cfg.train.init:
        card["init"] = cfg.train.init
    if a.run:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        steps, hours = [], []
        for run in a.run:
            ea = EventAccumulator(str(Path(run) / "tb"))
            ea.Reload()
            ev = ea.Scalars("train/loss")
            steps.append(int(ev[-1].step))
            # wall time: sum of gaps between logged steps, ignoring the pause of a resume
            gaps = np.diff([e.wall_time for e in ev])
            hours.append(float(gaps[gaps < 600].sum()) / 3600)
        card["steps"] = sum(steps)
        card["wall_time_h"] = round(sum(hours), 2)
        if len(a.run) > 1:
            card["stages"] = " + ".join(f"{s} steps ({r}, {h:.2f} h)" for s, r, h in zip(steps, a.run, hours))
    card.update(measure(path, a.kodak))
    # The card is Markdown beside the checkpoint; the .pt is not rewritten on
    # a re-measure (its bytes, and the repository, stay as exported).
    if variable:
        head = (f"{c.model} (N={cfg.model.N}, M={cfg.model.M}), variable rate: qualities "
                f"{cfg.model.q_min}..{cfg.model.q_max} (real numbers; reference {cfg.model.quality}), "
                f"λ = {lam}, log-linear in q (loss = λ·255²·MSE + bpp, each example at its own q).")
    else:
        head = (f"{c.model} (N={cfg.model.N}, M={cfg.model.M}), quality {cfg.model.quality}, "
                f"λ = {cfg.train.lmbda} (loss = λ·255²·MSE + bpp).")
    md = [f"# Model card: {path.name}", "", head, "", "| field | value |", "|---|---|"]
    md += [f"| {k} | {v} |" for k, v in card.items() if not re.match(r"kodak_q\d+_", k)]
    if variable:   # the kodak_q<k>_* figures, one row per anchor
        cols = ("bpp", "bpp_model", "psnr", "ms_ssim", "encode_s", "decode_s")
        md += ["", f"Kodak at each anchor quality ({card['kodak_images']} images, real files):", "",
               "| quality | λ | bpp | model bpp | PSNR (dB) | MS-SSIM | encode s | decode s |",
               "|---|---|---|---|---|---|---|---|"]
        md += [f"| {q} | {lmbda_at(float(q)):g} | " + " | ".join(str(card[f"kodak_q{q}_{c}"]) for c in cols) + " |"
               for q in range(cfg.model.q_min, cfg.model.q_max + 1)]
    md += ["", f"Weights digest (in every file it writes): `{c.digest().hex()}`", "",
           "Figures: `python " + " ".join(["scripts/write_model_card.py", a.checkpoint, a.kodak]) + "`"]
    path.with_suffix(".md").write_text("\n".join(md) + "\n")
    print(json.dumps(card, indent=1))


if __name__ == "__main__":
    main()
