"""Every bound the codec enforces, in one place (no torch, no model code).

A decoder meets files and checkpoints written by anyone, so every size it
allocates from is compared with a bound here first. The encoder uses the same
bounds, so it never writes a file the decoder would refuse.

Memory (``max_pixels``): whole-image synthesis and analysis hold a few
full-resolution activation tensors of N channels at half resolution, so peak
memory grows as about ``BASE_BYTES + BYTES_PER_PIXEL_PER_N * N`` per pixel.
Measured with ``python scripts/measure_memory.py`` (/usr/bin/time -v, peak
RSS, CPU, N = 128, shipped mean-scale model): 768x512 compress 1.06 GB /
decompress 1.07 GB; 4096x4096 compress 7.58 GB / decompress 7.15 GB, i.e.
about 0.9 GB + 400 B/px. The pixel limit keeps that peak under ~8 GB for any N:
``2**24 * 128 / N`` pixels, never more than ``MAX_SIDE**2``.

Payload plausibility (``payload_bounds``): constriction codes with 24-bit
fixed-point probabilities and gives every symbol of an alphabet of width A at
least one unit (2**-24), so no symbol costs more than 24 bits and none costs
less than -log2(1 - (A - 1) 2**-24) bits; an encoder that coded at least one
symbol emits at least one 32-bit word. A payload outside those bounds cannot
have come from our encoder.
"""
from __future__ import annotations

import math

MAX_SIDE = 16384            # largest image height or width, pixels
MAX_SECTIONS = 8            # coded latents per file
MAX_ALPHABET = 1 << 16      # widest symbol range [lo, hi] a section may declare
MAX_CHANNELS = 1024         # bound on N and M (transform widths) in checkpoints
MAX_TABLE_LENGTH = MAX_ALPHABET  # longest frozen pmf row
MAX_STATE_TENSORS = 4096    # entries in a checkpoint's state dict
UQ_EXTRA_SYMBOLS = 64       # factorized + universal quantization: symbols beyond the table span
CODER_PRECISION = 24        # constriction's probability precision, bits
SEED_MAX = (1 << 64) - 1    # dither seed is a u64 in the header
QUALITY_MAX = 255           # quality index is a u8 in the header
REFINE_MAX = 100_000        # encode-time refinement steps (codec.refine): more is surely a typo

# pixel limit: 2**24 pixels at N = 128 (see the module docstring)
PIXELS_AT_N128 = 1 << 24
BASE_BYTES = 0.9e9          # measured interpreter + weights + libraries, bytes
BYTES_PER_PIXEL_AT_N128 = 400.0  # measured, whole-image analysis/synthesis


def max_pixels(N: int) -> int:
    """Largest accepted H * W for a model whose transforms are N channels wide."""
    return min(MAX_SIDE * MAX_SIDE, PIXELS_AT_N128 * 128 // max(1, int(N)))


def check_pixels(height: int, width: int, N: int) -> str | None:
    """None if an H x W image fits the limits for width N, else the reason (one line)."""
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        return f"image size {height}x{width} outside 1..{MAX_SIDE} per side"
    if height * width > max_pixels(N):
        mp = max_pixels(N) / 1e6
        return (f"image of {height}x{width} = {height * width / 1e6:.1f} Mpx exceeds the "
                f"{mp:.1f} Mpx limit of this model (N={N}; about "
                f"{estimated_peak_bytes(height * width, N) / 1e9:.0f} GB would be needed)")
    return None


def estimated_peak_bytes(pixels: int, N: int) -> float:
    """Peak memory of coding ``pixels`` with width N, from the measured figures."""
    return BASE_BYTES + BYTES_PER_PIXEL_AT_N128 * N / 128 * pixels


def payload_bounds(n_symbols: int, width: int) -> tuple[int, int]:
    """(min, max) payload bytes of a section of ``n_symbols`` over ``width`` symbols."""
    if n_symbols <= 0:
        return 0, 0
    min_bits = n_symbols * -math.log2(1.0 - (width - 1) * 2.0 ** -CODER_PRECISION)
    min_words = max(1, math.floor(min_bits / 32) - 2)
    max_words = math.ceil(n_symbols * CODER_PRECISION / 32) + 2
    return 4 * min_words, 4 * max_words
