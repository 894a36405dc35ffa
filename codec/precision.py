"""Which autocast dtype a device should run the transforms in.

One question, asked by training (``train.precision``) and by encode-time
refinement (``codec.refine``): is reduced precision faster here? On CUDA it
is; on a CPU only with native bf16 units. Likelihoods and entropy parameters
stay float32 in every case (codec.entropy, the hyperprior's h_s).
"""
from __future__ import annotations

from pathlib import Path

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")   # train.precision
CPU_PRECISIONS = ("auto", "fp32", "bf16")         # CPU-only work (encode-time refinement): no fp16


def cpu_supports_bf16() -> bool:
    """True when this CPU has native bf16 matrix units (AMX or AVX512-BF16).

    Without them, bf16 autocast on CPU emulates and runs many times slower
    (measured 25x slower on an AVX2-only EPYC), so 'auto' picks fp32. With
    AMX (Sapphire Rapids) it is about 2x faster than fp32 for these models
    (training: docs/training.md; refinement: scripts/bench_refine.py).
    """
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype for ``torch.autocast`` under ``precision`` (one of PRECISIONS), or None for fp32."""
    if precision == "fp32":
        return None
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if cpu_supports_bf16() else None
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def autocast(device_type: str, amp: torch.dtype | None):
    """``torch.autocast`` to ``amp`` (from ``autocast_dtype``), or a disabled one for fp32."""
    return torch.autocast(device_type, dtype=amp or torch.float32, enabled=amp is not None)
