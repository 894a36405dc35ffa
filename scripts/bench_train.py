"""Training throughput and peak memory: our trainer vs a plain fp32 loop.

The baseline is written the way compressai's example trainer is: a Dataset
that opens and decodes an image file per sample with a random crop, a
DataLoader, fp32 NCHW, Adam + a separate aux Adam. Ours is `codec.training.train.Trainer`
with its defaults (in-memory crops, channels_last, precision 'auto'). Same
model (mean-scale, N=128, M=192), same batch (8 x 256x256), same data folder,
same number of steps; each runs in its own process so peak RSS is its own.

    python scripts/bench_train.py ../shared/data/train --steps 20
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path


def baseline(folder: str, steps: int, batch: int, crop: int, seed: int) -> dict:
    import torch
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset

    from codec import models
    from codec.models.base import rate_bits

    torch.manual_seed(seed)
    random.seed(seed)

    class Crops(Dataset):
        def __init__(self, root):
            self.files = sorted(p for p in Path(root).rglob("*") if p.suffix.lower() in (".png", ".webp", ".jpg"))

        def __len__(self):
            return len(self.files)

        def __getitem__(self, i):
            im = Image.open(self.files[i]).convert("RGB")
            w, h = im.size
            l, t = random.randint(0, max(0, w - crop)), random.randint(0, max(0, h - crop))
            im = im.crop((l, t, l + crop, t + crop))
            return torch.from_numpy(__import__("numpy").asarray(im).copy()).permute(2, 0, 1).float() / 255

    loader = DataLoader(Crops(folder), batch_size=batch, shuffle=True, num_workers=2, drop_last=True,
                        persistent_workers=True)
    net = models.build(models.config_for("mean-scale"))
    main = [p for n, p in net.named_parameters() if not n.endswith("quantiles")]
    aux = [p for n, p in net.named_parameters() if n.endswith("quantiles")]
    opt, aux_opt = torch.optim.Adam(main, 1e-4), torch.optim.Adam(aux, 1e-3)
    it, times, last = iter(loader), [], {}
    for step in range(steps + 2):
        t0 = time.perf_counter()
        try:
            x = next(it)
        except StopIteration:
            it = iter(loader)
            x = next(it)
        out = net(x)
        bpp = rate_bits(out.likelihoods) / (x.shape[0] * x.shape[2] * x.shape[3])
        mse = torch.mean((out.x_hat - x) ** 2)
        loss = 0.013 * 255 ** 2 * mse + bpp
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(main, 1.0)
        opt.step()
        a = net.aux_loss()
        aux_opt.zero_grad()
        a.backward()
        aux_opt.step()
        if step >= 2:
            times.append(time.perf_counter() - t0)
        last = {"loss": float(loss), "bpp": float(bpp), "mse": float(mse)}
    return {"seconds": times, **last}


def ours(folder: str, steps: int, batch: int, crop: int, seed: int, out: str) -> dict:
    from codec.training.config import Config
    from codec.training.train import Trainer
    cfg = Config()
    cfg.model.name = "mean-scale"
    cfg.data.train, cfg.data.crop, cfg.data.holdout = folder, crop, 0
    t = cfg.train
    t.batch, t.steps, t.seed, t.lr, t.lmbda = batch, steps + 2, seed, 1e-4, 0.013
    t.log_every = t.ckpt_every = t.val_every = t.image_every = 10 ** 9
    t.out = out
    tr = Trainer(cfg, log=lambda s: None)
    times, m = [], None
    for step in range(steps + 2):
        t0 = time.perf_counter()
        m = tr.train_step()
        if step >= 2:
            times.append(time.perf_counter() - t0)
    return {"seconds": times, "loss": m.loss, "bpp": m.bpp, "mse": m.mse, "precision": str(tr.amp)}


def child(args) -> None:
    warnings.filterwarnings("ignore")
    fn = baseline if args.child == "baseline" else ours
    extra = () if args.child == "baseline" else (args.out,)
    r = fn(args.folder, args.steps, args.batch, args.crop, args.seed, *extra)
    r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(r))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="/tmp/bench_train_run")
    ap.add_argument("--child", choices=("baseline", "ours"))
    args = ap.parse_args()
    if args.child:
        return child(args)
    res = {}
    for which in ("baseline", "ours"):
        cmd = [sys.executable, __file__, args.folder, "--steps", str(args.steps), "--batch", str(args.batch),
               "--crop", str(args.crop), "--seed", str(args.seed), "--out", args.out, "--child", which]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        res[which] = json.loads(out)
    import statistics
    for k, r in res.items():
        med = statistics.median(r["seconds"])
        r["it_s"] = 1 / med
        print(f"{k:<9} median {med:.3f} s/it = {r['it_s']:.3f} it/s, peak RSS {r['peak_rss_mb']:.0f} MB, "
              f"after {args.steps} steps: loss {r['loss']:.3f} bpp {r['bpp']:.3f} mse {r['mse']:.5f}"
              + (f" (precision {r.get('precision')})" if "precision" in r else ""))
    print(f"throughput ratio ours/baseline: {res['ours']['it_s'] / res['baseline']['it_s']:.2f}x; "
          f"peak memory ratio: {res['ours']['peak_rss_mb'] / res['baseline']['peak_rss_mb']:.2f}x")


if __name__ == "__main__":
    main()
