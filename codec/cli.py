"""Command line: argument parsing only; every action is a function elsewhere.

Exit status 0 on success; 2 on bad input, including bad arguments (one line
on stderr, no traceback, no output file left behind); 1 on an internal error
(one line too; the traceback only with ``--debug`` or ``CODEC_DEBUG=1``).
Every argument is checked before any work: seeds against the header's u64,
qualities against its u16 fixed point (0..255), device names, and outputs, which must be (or become)
regular files: directories and special files are refused, --force or not.
"""
from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
import traceback
from pathlib import Path

from PIL import Image

from . import api, container, filecheck
from .commandline import BadArgument, Parser, bounded_int, bounded_real, device_name, output_path, write_output
from .errors import CodecError, ModelMismatch
from .limits import QUALITY_MAX, REFINE_MAX, SEED_MAX
from .models.integer import Arithmetic
from .quantize import QuantizerKind

# The products that add subcommands to `codec` (train/export, eval). Named as
# data, imported when the parser is built: the core never imports training or
# evaluation code statically (see tests/test_layering.py), yet one `codec`
# command serves all three products.
PRODUCT_COMMANDS = ("codec.training.cli", "codec.evaluation.cli")


def _encode_image(rgb, suffix: str) -> bytes:
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF",
           ".tiff": "TIFF", ".ppm": "PPM"}.get(suffix.lower(), "PNG")
    buf = io.BytesIO()
    kw = {"lossless": True} if fmt == "WEBP" else ({"quality": 95} if fmt == "JPEG" else {})
    Image.fromarray(rgb, "RGB").save(buf, format=fmt, **kw)
    return buf.getvalue()


def cmd_compress(a) -> None:
    out = output_path(Path(a.output) if a.output else Path(a.input).with_suffix(".lic"), (a.input,), a.force)
    if a.seed is not None and a.quantizer != "uq":
        raise BadArgument("--seed is the dither seed of --quantizer uq; rounding takes none")
    target = a.target_size is not None or a.target_bpp is not None
    if target and a.quality is not None:
        raise BadArgument("--quality and a target (--target-size/--target-bpp) exclude each other")
    model = api.load_model(a.checkpoint, a.model, a.quality, a.device)
    q = QuantizerKind.UNIVERSAL if a.quantizer == "uq" else QuantizerKind.ROUND
    arith = None if a.arithmetic is None else Arithmetic[a.arithmetic.upper()]
    if target:
        if a.refine:
            raise BadArgument("--refine does not combine with --target-size/--target-bpp")
        data = api.compress_to_target(a.input, model, size=a.target_size, bpp=a.target_bpp, quantizer=q,
                                      seed=a.seed, arithmetic=arith).compressed.data
    else:
        data = api.compress(a.input, model, q, a.seed, arith, quality=a.quality, refine=a.refine,
                            progress=a.refine > 0 and sys.stderr.isatty())
    write_output(out, data, a.force)


def cmd_decompress(a) -> None:
    out = output_path(Path(a.output) if a.output else Path(a.input).with_suffix(".png"), (a.input,), a.force)
    data = _read(a.input)
    model = api.load_model(a.checkpoint, device=a.device) if a.checkpoint else None
    rgb = api.decompress(data, model, a.device)
    write_output(out, _encode_image(rgb, out.suffix), a.force)


def _read(path: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise CodecError(f"{p}: no such file")
    return p.read_bytes()


def cmd_info(a) -> None:
    """Print a file's header after the checks decompress makes (filecheck);
    the latent shapes are checked too when the checkpoint it names is found."""
    data = _read(a.input)
    h, sections = container.unpack(data)
    e = filecheck.check_structure(h, sections)
    try:
        model = api.load_model(a.checkpoint, device="cpu") if a.checkpoint else None
        model = api.model_for(h, model, device="cpu")
        filecheck.check_file(h, sections, model.net)
        weights = "checkpoint with this digest found; latent shapes checked"
    except ModelMismatch as err:
        weights = f"not checked: {err}"
    bits = 8 * len(data)
    print(f"file:        {a.input} ({len(data)} bytes)")
    print(f"format:      version {data[4]}")
    rate = "variable rate" if e.variable_rate else "fixed rate"
    print(f"model:       {e.name} (id {h.model_id}, {rate}, quality {h.quality:g}, digest {h.digest.hex()})")
    print(f"image:       {h.width}x{h.height} pixels, {bits / (h.width * h.height):.4f} bpp")
    q = {0: "rounding", 1: f"universal quantization (seed {h.seed})"}[h.quantizer]
    print(f"quantizer:   {q}")
    arith = api.file_arithmetic(h, e.cls)
    print(f"probabilities: {('float32 (decodes where float kernels agree)', 'portable (integer, frozen tables)')[arith]}")
    for i, s in enumerate(sections):
        print(f"section {i}:   latent {s.shape[0]}x{s.shape[1]}x{s.shape[2]}, symbols [{s.lo}, {s.hi}], "
              f"{len(s.payload)} bytes")
    print(f"weights:     {weights}")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="print the traceback of an internal error (also: CODEC_DEBUG=1)")
    p = Parser(prog="codec", description="Learned image compression (Balle family).", parents=[common])
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    add_subcommand = sub.add_parser

    def with_common(*args, **kw):  # every subcommand (eval's too) accepts --debug
        return add_subcommand(*args, parents=[common, *kw.pop("parents", [])], **kw)
    sub.add_parser = with_common

    c = sub.add_parser("compress", help="image -> compressed file")
    c.add_argument("input")
    c.add_argument("-o", "--output")
    c.add_argument("--model", default="mean-scale",
                   help="registry name (factorized, hyperprior, mean-scale; -vr: variable rate)")
    c.add_argument("--quality", type=bounded_real("quality", 0, QUALITY_MAX),
                   help="rate setting: a variable-rate model takes a real number in its range (integers are "
                        "the lambda table's anchors, fractions interpolate; default its reference anchor); "
                        "a fixed-rate model only its own index (default 3: picks the shipped checkpoint)")
    size = c.add_mutually_exclusive_group()
    size.add_argument("--target-size", type=bounded_int("target size", 1, 1 << 40), metavar="BYTES",
                      help="variable-rate models: the best file of at most BYTES bytes (quality searched)")
    size.add_argument("--target-bpp", type=bounded_real("target bpp", 0, 1000, above=True), metavar="B",
                      help="variable-rate models: the file closest to B bits per pixel from below")
    c.add_argument("--checkpoint", help="checkpoint file (overrides --model and the shipped lookup)")
    c.add_argument("--quantizer", choices=("round", "uq"), default="round",
                   help="test-time quantizer: rounding or universal quantization")
    c.add_argument("--seed", type=bounded_int("seed", 0, SEED_MAX),
                   help="dither seed for --quantizer uq, 0..2**64-1 (default: random)")
    c.add_argument("--arithmetic", choices=("integer", "float"),
                   help="probability arithmetic: integer (default: exact entropy parameters and frozen tables; "
                        "decodes on any machine) or float32 (decodes only where float kernels agree)")
    c.add_argument("--refine", type=bounded_int("refine", 0, REFINE_MAX), default=0, metavar="N",
                   help="spend N optimization steps on this image's latents before coding (slower encode, "
                        "smaller/better file; the decoder needs nothing). Default 0")
    c.add_argument("--device", type=device_name, default="auto")
    c.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")
    c.set_defaults(func=cmd_compress)

    d = sub.add_parser("decompress", help="compressed file -> image (PNG unless the suffix says otherwise)")
    d.add_argument("input")
    d.add_argument("-o", "--output")
    d.add_argument("--checkpoint", help="checkpoint file (default: the shipped one the file names)")
    d.add_argument("--device", type=device_name, default="auto")
    d.add_argument("-f", "--force", action="store_true")
    d.set_defaults(func=cmd_decompress)

    i = sub.add_parser("info", help="check a compressed file and print its header")
    i.add_argument("input")
    i.add_argument("--checkpoint", help="checkpoint file (default: the shipped one the file names)")
    i.set_defaults(func=cmd_info)

    for product in PRODUCT_COMMANDS:
        importlib.import_module(product).add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:          # --help (0) or a bad argument (2, already printed)
        return int(e.code or 0)
    debug = getattr(args, "debug", False) or os.environ.get("CODEC_DEBUG", "") not in ("", "0")
    try:
        args.func(args)
    except CodecError as e:
        print(f"codec: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"codec: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("codec: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: one line by default, the traceback on request
        if debug:
            traceback.print_exc()
        print(f"codec: internal error: {type(e).__name__}: {_one_line(e)}"
              f"{'' if debug else ' (run with --debug or CODEC_DEBUG=1 for the traceback)'}", file=sys.stderr)
        return 1
    return 0


def _one_line(e: BaseException) -> str:
    lines = [s.strip() for s in str(e).splitlines() if s.strip()]
    return lines[0] if lines else type(e).__name__


if __name__ == "__main__":
    sys.exit(main())
