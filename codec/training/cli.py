"""``codec train`` and ``codec export``: argument parsing only; the work is
codec.training.train. Registered into the ``codec`` command by codec.cli."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..commandline import device_name, output_path


def cmd_train(a) -> None:
    # The trainer pulls in TensorBoard; imported when the command runs, so
    # that `codec compress` does not pay for it at start-up.
    from . import config
    from .train import train
    cfg = config.load(a.config, a.set or [])
    train(cfg, resume=a.resume, device=a.device, force=a.force)


def cmd_export(a) -> None:
    from .train import export
    out = output_path(Path(a.output), (a.run_checkpoint,), a.force)
    export(a.run_checkpoint, out)


def add_commands(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="train a model from a config file")
    t.add_argument("--config", required=True)
    t.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="override a config value")
    t.add_argument("--resume", action="store_true", help="continue the run in train.out")
    t.add_argument("--device", type=device_name, default=None)
    t.add_argument("-f", "--force", action="store_true", help="let train.export overwrite an existing file")
    t.set_defaults(func=cmd_train)

    x = sub.add_parser("export", help="run checkpoint -> shipped inference checkpoint")
    x.add_argument("run_checkpoint")
    x.add_argument("output")
    x.add_argument("-f", "--force", action="store_true")
    x.set_defaults(func=cmd_export)
