"""Python API: compress(image) -> bytes, decompress(bytes) -> image.

This is the one place where device policy lives: the analysis and synthesis
transforms (and h_a) run on CUDA when present, while everything that decides
the entropy-coding parameters -- h_s, the factorized density and its tables --
runs on the CPU on both sides. For the hyperprior families the entropy
parameters are computed by default with exact integer arithmetic
(``codec.models.integer``), so a file decodes on any machine, kernel set or
device; float32 arithmetic (``arithmetic=Arithmetic.FLOAT``, and every
format-1 file) decodes only where the float h_s gives the encoder's bits.
Shipped checkpoints are found by ``codec.shipped``.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import checkpoint as ckpt_io
from . import container, filecheck, limits, models, shipped
from .errors import BadCheckpoint, BadImage, CodecError, ModelMismatch
from .image import crop, load_rgb, pad, to_rgb8, to_tensor, to_uint8
from .models.integer import Arithmetic
from .quantize import QuantizerKind, dither

DEFAULT_MODEL = "mean-scale"
DEFAULT_QUALITY = 3


class BadDevice(CodecError):
    """A device name that is unknown or absent on this machine."""


def pick_device(device: str | None = None) -> torch.device:
    """'auto' / None (CUDA when present), 'cpu', 'cuda' or 'cuda:N' that exists."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise BadDevice(f"unknown device '{device}' (use auto, cpu, cuda or cuda:N)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise BadDevice("CUDA was requested but no GPU is available")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise BadDevice(f"device {device} does not exist ({torch.cuda.device_count()} GPU(s))")
    elif dev.type != "cpu":
        raise BadDevice(f"device type '{dev.type}' is not supported (use auto, cpu, cuda or cuda:N)")
    return dev


@dataclass
class LoadedModel:
    """A frozen model ready to code, with what identifies it in a file."""

    net: models.CodecModel
    name: str
    model_id: int
    quality: int
    digest: bytes
    card: dict
    device: torch.device


def load_model(path: str | Path | None = None, model: str = DEFAULT_MODEL,
               quality: int = DEFAULT_QUALITY, device: str | None = None) -> LoadedModel:
    """Load a checkpoint (default: the shipped one for model/quality)."""
    if path is None:
        path = shipped.checkpoint_path(model, quality)
        if not path.is_file():
            names = ", ".join(s.path.stem for s in shipped.shipped_checkpoints()) or "none"
            raise BadCheckpoint(f"no shipped checkpoint for {model} quality {quality} "
                                f"(shipped: {names}); use --checkpoint FILE")
    path = Path(path)
    return model_from_checkpoint(ckpt_io.load(path), device, str(path))


def model_from_checkpoint(c: ckpt_io.Checkpoint, device: str | None = None,
                          where: str = "checkpoint") -> LoadedModel:
    """A coding-ready model from an in-memory checkpoint with frozen tables."""
    if not c.tables:
        raise BadCheckpoint(f"{where} has no frozen coding tables (export it first)")
    net = c.build_model()
    dev = pick_device(device)
    place(net, dev)
    e = models.entry(c.model)
    return LoadedModel(net, c.model, e.model_id, int(net.config.quality), c.digest(), c.card, dev)


def place(net: models.CodecModel, device: torch.device) -> None:
    """Apply the family's device declaration: ``net.cpu_parts`` (what decides
    the entropy parameters) on the CPU, everything else on ``device``."""
    children = dict(net.named_children())
    missing = [p for p in net.cpu_parts if p not in children]
    if missing:
        raise TypeError(f"{type(net).__name__}.cpu_parts names no child {missing[0]!r}")
    for name, child in children.items():
        if name in net.cpu_parts:
            child.to("cpu")
        else:  # channels_last: oneDNN's faster convolution layout (measured ~1.2x on CPU)
            child.to(device, memory_format=torch.channels_last)


def _as_rgb(image, N: int) -> np.ndarray:
    """(H, W, 3) uint8 from a path, PIL image or array, within the pixel limit of width N."""
    if isinstance(image, (str, Path)):
        return load_rgb(image, max_pixels=limits.max_pixels(N))
    if isinstance(image, Image.Image):
        problem = limits.check_pixels(image.height, image.width, N)
        if problem:
            raise BadImage(problem)
        return to_rgb8(image)
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise BadImage("image array must be (H, W, 3) uint8 RGB")
    problem = limits.check_pixels(a.shape[0], a.shape[1], N)
    if problem:
        raise BadImage(problem)
    return a


def _dither_fn(quantizer: QuantizerKind, seed: int):
    if quantizer == QuantizerKind.ROUND:
        return lambda stream, shape: None
    return lambda stream, shape: dither(seed, stream, shape)


@dataclass
class Compressed:
    """Result of compression: file bytes, what the decoder will show, model bits."""

    data: bytes
    reconstruction: np.ndarray | None  # (H, W, 3) uint8, equal to decompress(data)
    bits: float                  # -log2 P of the coded symbols under the coding models


def default_arithmetic(model: LoadedModel) -> Arithmetic:
    """Integer for models with entropy parameters (hyperprior families), else float (nothing computed)."""
    return Arithmetic.INTEGER if hasattr(model.net, "exact_parameters") else Arithmetic.FLOAT


def compress_full(image, model: LoadedModel | None = None,
                  quantizer: QuantizerKind = QuantizerKind.ROUND, seed: int | None = None,
                  reconstruct: bool = True, arithmetic: Arithmetic | None = None) -> Compressed:
    """Compress and (unless ``reconstruct`` is False) also synthesize what the
    decoder will show, from the same dequantized latent the decoder rebuilds.
    ``arithmetic`` of the entropy parameters: None picks ``default_arithmetic``."""
    model = model or load_model()
    arithmetic = default_arithmetic(model) if arithmetic is None else Arithmetic(arithmetic)
    rgb = _as_rgb(image, model.net.N)
    H, W = rgb.shape[:2]
    seed = secrets.randbits(63) if (seed is None and quantizer == QuantizerKind.UNIVERSAL) else (seed or 0)
    if not (isinstance(seed, (int, np.integer)) and 0 <= seed <= limits.SEED_MAX):
        raise CodecError(f"dither seed must be an integer in 0..2**64-1, got {seed!r}")
    g = model.net.geometry(H, W)
    x = pad(to_tensor(rgb), g.stride).to(model.device).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        coded = model.net.compress(x, _dither_fn(quantizer, seed), arithmetic)
    header = container.Header(model.model_id, model.quality, model.digest, H, W, int(quantizer), seed,
                              int(arithmetic))
    data = container.pack(header, coded.sections)
    rec = None
    if reconstruct:
        with torch.inference_mode():
            rec = to_uint8(crop(model.net.synthesis(coded.y_hat), H, W))
    return Compressed(data, rec, coded.bits)


def compress(image, model: LoadedModel | None = None,
             quantizer: QuantizerKind = QuantizerKind.ROUND, seed: int | None = None,
             arithmetic: Arithmetic | None = None) -> bytes:
    """Compress an image (path, PIL image or (H, W, 3) uint8 array) to file bytes."""
    return compress_full(image, model, quantizer, seed, reconstruct=False, arithmetic=arithmetic).data


def model_for(header: container.Header, model: LoadedModel | None = None,
              device: str | None = None) -> LoadedModel:
    """The model a file needs: the given one if it matches, else a shipped one."""
    if model is not None:
        if model.model_id != header.model_id or model.digest != header.digest:
            raise ModelMismatch(f"file was made with other weights ({models.entry_by_id(header.model_id).name}, "
                                f"digest {header.digest.hex()}) than checkpoint digest {model.digest.hex()}")
        return model
    name = models.entry_by_id(header.model_id).name
    path = shipped.find(name, header.digest, header.quality)
    if path is None:
        raise ModelMismatch(f"no checkpoint with digest {header.digest.hex()} for model '{name}' "
                            f"in {shipped.checkpoint_dir()} (file made with other weights?)")
    return load_model(path, device=device)


def decompress(data: bytes, model: LoadedModel | None = None, device: str | None = None) -> np.ndarray:
    """Decode file bytes to an (H, W, 3) uint8 RGB image."""
    header, sections = container.unpack(data)
    m = model_for(header, model, device)
    g = filecheck.check_file(header, sections, m.net)   # before anything is allocated
    with torch.inference_mode():
        x_hat = m.net.decompress(sections, g, _dither_fn(QuantizerKind(header.quantizer), header.seed),
                                 Arithmetic(header.arithmetic))
    return to_uint8(crop(x_hat, header.height, header.width))
