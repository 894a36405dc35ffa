"""Train the model zoo (configs/zoo) in dependency order, resumably.

Models that fine-tune from another (``train.init``) run after their source;
each run resumes from its ``last.pt`` when one exists, so the script can be
stopped and started again at any time. Overrides apply to every config, e.g.
a shorter schedule for a quick look:

    python scripts/train_zoo.py --models mean-scale --qualities 3 5
    python scripts/train_zoo.py --set train.steps=20000 --set data.train=/data/photos
    torchrun --nproc_per_node 4 scripts/train_zoo.py      # DDP on every run
"""
from __future__ import annotations

import argparse
from pathlib import Path

from codec.training import config
from codec.training.train import train

ZOO = Path(__file__).resolve().parents[1] / "configs" / "zoo"


def ordered(cfgs: dict[str, config.Config]) -> list[str]:
    """Names sorted so that every run comes after the run whose weights it starts from."""
    out_of = {str(Path(c.train.out) / "last.pt"): name for name, c in cfgs.items()}
    done: list[str] = []

    def visit(name: str, seen: tuple[str, ...] = ()) -> None:
        if name in done:
            return
        if name in seen:
            raise SystemExit(f"train.init cycle through {name}")
        src = out_of.get(cfgs[name].train.init)
        if src:
            visit(src, seen + (name,))
        done.append(name)

    for name in sorted(cfgs):
        visit(name)
    return done


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="*", default=["factorized", "hyperprior", "mean-scale"])
    p.add_argument("--qualities", nargs="*", type=int, default=list(range(1, 9)))
    p.add_argument("--set", action="append", default=[], help="section.key=value for every config")
    p.add_argument("--dry-run", action="store_true", help="print the order and exit")
    a = p.parse_args()
    cfgs = {f.stem: config.load(f, a.set) for f in sorted(ZOO.glob("*.toml"))}
    cfgs = {k: c for k, c in cfgs.items() if c.model.name in a.models and c.model.quality in a.qualities}
    for name in ordered(cfgs):
        print(f"== {name}" + (f" (from {cfgs[name].train.init})" if cfgs[name].train.init else ""), flush=True)
        if not a.dry_run:
            train(cfgs[name], resume=True)


if __name__ == "__main__":
    main()
