"""Channel-simulation benchmark: proposals examined, seconds and bits against KL and D_inf.

Reproduces the headline of greedy Poisson rejection sampling (Flamich 2023):
branch-and-bound GPRS examines a number of nodes linear in D_KL[Q || P], while
PFR (= A* coding with a global bound) and global GPRS examine ~2^D_inf
proposals.  Two families of 1-D Gaussian pairs against P = N(0, 1):

* narrowing: Q = N(1/2, s^2), s chosen for D_KL = 0.5 .. 20 bits
  (D_inf = KL + 0.1 .. 0.7 bits);
* shifted:   Q = N(mu, 1/16), mu = 0.5 .. 5 (D_inf grows faster than KL).

For every pair and method: the mean over ``--seeds`` seeds of the proposals
(or nodes) examined, the CPU seconds of one encode (time.process_time; the
stretch table is built first and reported apart), and the code length in bits.
Global methods are skipped above ``--max-dinf`` bits (their cost is 2^D_inf).

    python scripts/bench_channel.py --out /tmp/channel --seeds 200 --max-dinf 16

writes results.csv, table.md and channel_bench.png into --out.
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

from codec.channel import GaussianPair, IntegerPrior, Method, SharedRandomness
from codec.channel.diagonal import encode_one

KL_GRID = (0.5, 1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20)
MU_GRID = (0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5)


def narrowing(kl_bits: float, mu: float = 0.5) -> GaussianPair:
    kl = lambda s: (-np.log(s) + (s * s + mu * mu - 1) / 2) / np.log(2) - kl_bits  # noqa: E731
    return GaussianPair(mu, brentq(kl, 1e-8, 1 - 1e-9, xtol=1e-15))


def measure(pair: GaussianPair, method: Method, seeds: int, prior: IntegerPrior) -> dict:
    start = time.process_time()
    pair._table                                      # build the stretch table once, timed apart
    build = time.process_time() - start
    examined, bits, secs = [], [], []
    for k in range(seeds):
        t0 = time.process_time()
        code = encode_one(pair, SharedRandomness(k, 1), method, prior)
        secs.append(time.process_time() - t0)
        examined.append(code.examined)
        bits.append(code.bits)
    return dict(method=method.name, kl_bits=pair.kl_bits, dinf_bits=pair.dinf_bits,
                examined=float(np.mean(examined)), examined_se=float(np.std(examined) / np.sqrt(seeds)),
                ms=1e3 * float(np.mean(secs)), bits=float(np.mean(bits)),
                bound=pair.kl_bits + np.log2(pair.kl_bits + 1) + 4, table_ms=1e3 * build)


def run(seeds: int, max_dinf: float) -> list[dict]:
    prior = IntegerPrior()
    rows = []
    for family, pairs in (("narrowing", [narrowing(k) for k in KL_GRID]),
                          ("shifted", [GaussianPair(mu, 0.25) for mu in MU_GRID])):
        for pair in pairs:
            for method in Method:
                if method is not Method.BNB and pair.dinf_bits > max_dinf:
                    continue
                row = dict(family=family, **measure(pair, method, seeds, prior))
                rows.append(row)
                print(f"{family:9s} {row['method']:4s} KL {row['kl_bits']:6.2f} Dinf {row['dinf_bits']:6.2f} "
                      f"examined {row['examined']:10.1f} {row['ms']:8.3f} ms {row['bits']:6.2f} bits", flush=True)
    return rows


def write_table(rows: list[dict], path: Path) -> None:
    lines = ["| family | method | KL (bits) | D∞ (bits) | examined | ms / sample | bits | bound |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['family']} | {r['method']} | {r['kl_bits']:.2f} | {r['dinf_bits']:.2f} | "
                     f"{r['examined']:.1f} | {r['ms']:.3f} | {r['bits']:.2f} | {r['bound']:.2f} |")
    path.write_text("\n".join(lines) + "\n")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, family, key, label in ((axes[0], "narrowing", "kl_bits", "D_KL[Q||P] (bits)"),
                                   (axes[1], "shifted", "dinf_bits", "D_inf[Q||P] (bits)")):
        for method, style in (("PFR", "o-"), ("GPRS", "s--"), ("BNB", "^-")):
            sel = [r for r in rows if r["family"] == family and r["method"] == method]
            if sel:
                ax.semilogy([r[key] for r in sel], [r["examined"] for r in sel], style, label=method, ms=4)
        ax.set_xlabel(label)
        ax.set_title(f"{family} Q, P = N(0, 1)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("mean proposals / nodes examined")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--max-dinf", type=float, default=16.0, help="skip global methods above this D_inf (bits)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = run(args.seeds, args.max_dinf)
    with open(args.out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    write_table(rows, args.out / "table.md")
    plot(rows, args.out / "channel_bench.png")


if __name__ == "__main__":
    main()
