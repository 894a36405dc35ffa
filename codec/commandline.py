"""What every ``codec`` subcommand shares, core or product: one-line argument
errors with exit status 2, bounded integers, device names, and the output
rules (a regular file or a new one, never an input, replaced only with
--force, written atomically).

It lives apart from ``codec.cli`` so that the training and evaluation
products (``codec.training.cli``, ``codec.evaluation.cli``) can use it while
imports keep pointing one way: products import the core, never the reverse.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import sys
from pathlib import Path

from .errors import CodecError, OutputExists
from .fsio import check_output_path, write_atomic

_DEVICE = re.compile(r"auto|cpu|cuda(:\d{1,3})?")


class BadArgument(CodecError):
    """A command-line value outside what the command accepts."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2 (usage stays in --help)."""

    def error(self, message: str):
        print(f"codec: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(2)


def bounded_int(name: str, lo: int, hi: int):
    """An argparse type: a decimal (or 0x hex) integer in lo..hi."""
    def parse(text: str) -> int:
        try:
            v = int(text, 0) if text.strip().lower().startswith("0x") else int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got '{text}'") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{name} {v} is outside {lo}..{hi}")
        return v
    parse.__name__ = name
    return parse


def bounded_real(name: str, lo: float, hi: float, above: bool = False):
    """An argparse type: a finite decimal number in lo..hi (``above``: > lo)."""
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got '{text}'") from None
        if not (math.isfinite(v) and (v > lo if above else v >= lo) and v <= hi):
            raise argparse.ArgumentTypeError(f"{name} {text} is outside {'(' if above else ''}{lo:g}..{hi:g}")
        return v
    parse.__name__ = name
    return parse


def device_name(text: str) -> str:
    """'auto', 'cpu', 'cuda' or 'cuda:N' (whether the device exists is checked when used)."""
    if not _DEVICE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"unknown device '{text}' (use auto, cpu, cuda or cuda:N)")
    return text


def output_path(out: Path, inputs: tuple[str, ...], force: bool) -> Path:
    """Check an output before any work: regular file or new, not an input, --force to replace."""
    check_output_path(out)
    for i in inputs:
        if Path(i).exists() and out.exists() and os.path.samefile(i, out):
            raise BadArgument(f"{out} is also the input; choose another output")
    if out.exists() and not force:
        raise OutputExists(f"{out} exists (use --force to overwrite)")
    return out


def write_output(path: Path, data: bytes, force: bool) -> None:
    """Write via a temporary file and rename: never a partial output."""
    if path.exists() and not force:
        raise OutputExists(f"{path} exists (use --force to overwrite)")
    write_atomic(path, data)
