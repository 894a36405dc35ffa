"""Python API: compress(image) -> bytes, decompress(bytes) -> image.

This is the one place where device policy lives: the analysis and synthesis
transforms (and h_a) run on CUDA when present, while everything that decides
the entropy-coding parameters -- h_s, the factorized density and its tables --
runs on the CPU on both sides. For the hyperprior families the entropy
parameters are computed by default with exact integer arithmetic
(``codec.models.integer``), and a factorized latent coded with dither reads
a frozen CDF grid (``codec.entropy``), so a file decodes on any machine,
kernel set or device; float32 arithmetic (``arithmetic=Arithmetic.FLOAT``,
every format-1 file, and dithered factorized files before format 4) decodes
only where the float32 network gives the encoder's bits.
Shipped checkpoints are found by ``codec.shipped``.
"""
from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import checkpoint as ckpt_io
from . import container, filecheck, limits, metrics, models, shipped
from .errors import BadCheckpoint, BadImage, CodecError, ModelMismatch
from .image import crop, load_rgb, pad, to_rgb8, to_tensor, to_uint8
from .models.integer import Arithmetic
from .models.variable_rate import is_variable_rate, lmbda_at, on_grid
from .quantize import QuantizerKind, dither

DEFAULT_MODEL = "mean-scale"
DEFAULT_QUALITY = 3


class BadDevice(CodecError):
    """A device name that is unknown or absent on this machine."""


class BadQuality(CodecError):
    """A rate setting the model cannot take (outside its range, or another
    quality than a fixed-rate model's own)."""


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
    quality: int           # fixed-rate: its quality index; variable-rate: the reference anchor
    digest: bytes
    card: dict
    device: torch.device
    lmbda: float | None = None   # the RD trade-off the weights were trained at (train.lmbda), for refinement

    @property
    def quality_range(self) -> tuple[int, int] | None:
        """(lowest, highest) quality of a variable-rate model; None for a fixed-rate one."""
        return self.net.quality_range if is_variable_rate(self.net) else None

    def rate_setting(self, quality: float | None) -> float:
        """The quality a file will record: checked against the model, put on the
        header's 1/256 grid. None: a fixed model's own, a variable one's reference."""
        r = self.quality_range
        if r is None:
            if quality is not None and quality != self.quality:
                raise BadQuality(f"{self.name} checkpoint is fixed-rate at quality {self.quality}; "
                                 f"it cannot code at quality {quality:g} (use a variable-rate model)")
            return float(self.quality)
        q = float(self.quality if quality is None else quality)
        if not (math.isfinite(q) and r[0] <= on_grid(q) <= r[1]):
            raise BadQuality(f"quality {q:g} is outside this model's range {r[0]}..{r[1]}")
        return on_grid(q)

    def set_rate(self, quality: float) -> None:
        if is_variable_rate(self.net):
            self.net.set_quality(quality)


def load_model(path: str | Path | None = None, model: str = DEFAULT_MODEL,
               quality: float | None = DEFAULT_QUALITY, device: str | None = None) -> LoadedModel:
    """Load a checkpoint (default: the shipped one for model/quality; a
    variable-rate model is one file, ``<model>.pt``, for every quality)."""
    if path is None:
        variable = models.entry(model).variable_rate
        if not variable and quality is not None and quality != int(quality):
            raise BadQuality(f"{model} is a fixed-rate model: quality must be the integer index of a "
                             f"shipped checkpoint, got {quality:g}")
        quality = DEFAULT_QUALITY if quality is None else quality
        path = shipped.checkpoint_path(model, None if variable else int(quality))
        if not path.is_file():
            names = ", ".join(s.path.stem for s in shipped.shipped_checkpoints()) or "none"
            what = model if variable else f"{model} quality {int(quality)}"
            raise BadCheckpoint(f"no shipped checkpoint for {what} "
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
    return LoadedModel(net, c.model, e.model_id, int(net.config.quality), c.digest(), c.card, dev,
                       trained_lambda(c))


def trained_lambda(c: ckpt_io.Checkpoint) -> float | None:
    """train.lmbda of the checkpoint's config (else the card's lambda) if it was an MSE model."""
    train = c.config.get("train") or {}
    if train.get("distortion", "mse") != "mse":
        return None
    v = train.get("lmbda", c.card.get("lambda"))
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) and v > 0 else None


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
    """The portable rule where the model's frozen state has it (CodecModel.default_arithmetic)."""
    return model.net.default_arithmetic()


def file_arithmetic(header: container.Header, family: type[models.CodecModel] | models.CodecModel) -> Arithmetic:
    """The rule a file's probabilities follow (``family``: the model or its
    class). Before format version 4 a factorized latent coded with dither
    always used the float32 density, whatever the arithmetic byte said (the
    byte then meant only h_s)."""
    if header.version < 4 and family.dithered_densities:
        return Arithmetic.FLOAT
    return Arithmetic(header.arithmetic)


def compress_full(image, model: LoadedModel | None = None,
                  quantizer: QuantizerKind = QuantizerKind.ROUND, seed: int | None = None,
                  reconstruct: bool = True, arithmetic: Arithmetic | None = None,
                  quality: float | None = None, refine: int = 0, lmbda: float | None = None,
                  progress: bool = False, refine_precision: str = "auto") -> Compressed:
    """Compress and (unless ``reconstruct`` is False) also synthesize what the
    decoder will show, from the same dequantized latent the decoder rebuilds.
    ``arithmetic`` of the entropy parameters: None picks ``default_arithmetic``.
    ``quality``: a real number in a variable-rate model's range (on a 1/256
    grid; None: its reference anchor); a fixed-rate model takes only its own.

    ``refine`` > 0 optimizes the latents of this image for that many steps
    (``codec.refine``) at ``lmbda`` (default: the model's trained lambda; for
    a variable-rate model the lambda of the chosen quality) before
    coding; the file decodes with any decoder (``refine_precision``: of the
    relaxed steps, see ``codec.refine.refine``). If the refined file's loss
    (lambda * MSE_255 of the decoded image + file bpp) is not below the
    unrefined one's, the unrefined file is returned."""
    model = model or load_model()
    q = model.rate_setting(quality)
    arithmetic = default_arithmetic(model) if arithmetic is None else Arithmetic(arithmetic)
    if isinstance(refine, bool) or not isinstance(refine, (int, np.integer)) or not 0 <= refine <= limits.REFINE_MAX:
        raise CodecError(f"refine must be an integer number of steps in 0..{limits.REFINE_MAX}, got {refine!r}")
    rgb = _as_rgb(image, model.net.N)
    H, W = rgb.shape[:2]
    seed = secrets.randbits(63) if (seed is None and quantizer == QuantizerKind.UNIVERSAL) else (seed or 0)
    if not (isinstance(seed, (int, np.integer)) and 0 <= seed <= limits.SEED_MAX):
        raise CodecError(f"dither seed must be an integer in 0..2**64-1, got {seed!r}")
    g = model.net.geometry(H, W)
    x = pad(to_tensor(rgb), g.stride).to(model.device).contiguous(memory_format=torch.channels_last)
    header = container.Header(model.model_id, q, model.digest, H, W, int(quantizer), seed,
                              int(arithmetic))
    dither_fn = _dither_fn(quantizer, seed)
    with torch.inference_mode():
        model.set_rate(q)
        latents = model.net.encode_latents(x)
        coded = model.net.compress_latents(latents, dither_fn, arithmetic)
    data = container.pack(header, coded.sections)
    if refine:
        # Imported only here: the decoder (and an unrefined encode) never loads it.
        from . import refine as refinement
        if lmbda is not None:
            lm = float(lmbda)
        else:   # a variable-rate model: the lambda of the chosen quality
            lm = lmbda_at(q) if model.quality_range is not None else model.lmbda
        if lm is None or not (math.isfinite(lm) and lm > 0):
            raise CodecError("this checkpoint records no MSE lambda (train.lmbda); pass lmbda= to refine")
        r = refinement.refine(model.net, to_tensor(rgb), latents, lm, int(refine), dither_fn, progress=progress,
                              precision=refine_precision)
        if r.improved:
            with torch.inference_mode():
                model.set_rate(q)   # the decoder's rate setting, for the file and both pictures
                c2 = model.net.compress_latents(r.latents, dither_fn, arithmetic)
            d2 = container.pack(header, c2.sections)
            loss2, rec2 = _file_loss(model, rgb, d2, c2, lm)
            loss, rec = _file_loss(model, rgb, data, coded, lm)
            if loss2 < loss:
                coded, data, rec = c2, d2, rec2
            return Compressed(data, rec if reconstruct else None, coded.bits)
    rec = None
    if reconstruct:
        with torch.inference_mode():
            model.set_rate(q)
            rec = to_uint8(crop(model.net.synthesis(coded.y_hat), H, W))
    return Compressed(data, rec, coded.bits)


def _file_loss(model: LoadedModel, rgb: np.ndarray, data: bytes, coded, lmbda: float) -> tuple[float, np.ndarray]:
    """lambda * MSE_255 of what the decoder will show + bpp of the real file,
    and that picture (reused as the reconstruction)."""
    H, W = rgb.shape[:2]
    with torch.inference_mode():
        rec = to_uint8(crop(model.net.synthesis(coded.y_hat), H, W))
    return lmbda * metrics.mse8(rec, rgb) + metrics.bpp(len(data), H, W), rec


def compress(image, model: LoadedModel | None = None,
             quantizer: QuantizerKind = QuantizerKind.ROUND, seed: int | None = None,
             arithmetic: Arithmetic | None = None, quality: float | None = None, refine: int = 0,
             lmbda: float | None = None, progress: bool = False) -> bytes:
    """Compress an image (path, PIL image or (H, W, 3) uint8 array) to file bytes
    (``quality``, ``refine``: see ``compress_full``)."""
    return compress_full(image, model, quantizer, seed, reconstruct=False, arithmetic=arithmetic,
                         quality=quality, refine=refine, lmbda=lmbda, progress=progress).data


class TargetUnreachable(CodecError):
    """A target size below the smallest file the model can make of the image."""


@dataclass
class Targeted:
    """Result of a target-size search: the file, the quality it was coded at,
    and how many encodes the search took."""

    compressed: Compressed
    quality: float
    encodes: int


MAX_TARGET_ENCODES = 12


def compress_to_target(image, model: LoadedModel | None = None, *, size: int | None = None,
                       bpp: float | None = None, quantizer: QuantizerKind = QuantizerKind.ROUND,
                       seed: int | None = None, arithmetic: Arithmetic | None = None,
                       reconstruct: bool = False) -> Targeted:
    """The largest file not exceeding a target, over a variable-rate model's qualities.

    ``size``: a hard ceiling in bytes; ``bpp``: bits per pixel, i.e. a ceiling of
    floor(bpp * H * W / 8) bytes (the closest file from below). File size grows
    with quality, so the search brackets the target between two grid
    qualities (1/256 steps) and narrows the bracket, alternating a secant step
    on log-size with a bisection, for at most MAX_TARGET_ENCODES encodes; it
    stops early once the best file is within 0.5 % below the ceiling. Only a
    file that fits is ever returned (the best one seen). One dither seed is
    drawn for all encodes. TargetUnreachable when even the lowest quality's
    file is larger than the target.
    """
    model = model or load_model()
    if (size is None) == (bpp is None):
        raise BadQuality("give exactly one target: a size in bytes or a bpp")
    r = model.quality_range
    if r is None:
        raise BadQuality(f"{model.name} checkpoint is fixed-rate (quality {model.quality}): a target size "
                         "needs a variable-rate model, where quality can be chosen")
    rgb = _as_rgb(image, model.net.N)
    H, W = rgb.shape[:2]
    if bpp is not None:
        if not (isinstance(bpp, (int, float)) and math.isfinite(bpp) and bpp > 0):
            raise BadQuality(f"target bpp must be a positive number, got {bpp!r}")
        size = math.floor(bpp * H * W / 8)
    if not (isinstance(size, (int, np.integer)) and size > 0):
        raise BadQuality(f"target size must be a positive number of bytes, got {size!r}")
    if seed is None and quantizer == QuantizerKind.UNIVERSAL:
        seed = secrets.randbits(63)
    grid = container.QUALITY_SCALE
    sizes: dict[int, int] = {}
    files: dict[int, Compressed] = {}

    def encode(k: int) -> int:
        if k not in sizes:
            files[k] = compress_full(rgb, model, quantizer, seed, reconstruct=False,
                                     arithmetic=arithmetic, quality=k / grid)
            sizes[k] = len(files[k].data)
        return sizes[k]

    lo, hi = r[0] * grid, r[1] * grid
    if encode(lo) > size:
        raise TargetUnreachable(f"target of {size} bytes cannot be met: the smallest file this model makes "
                                f"of this image is {sizes[lo]} bytes ({8 * sizes[lo] / (H * W):.4f} bpp, "
                                f"quality {r[0]})")
    if encode(hi) > size:
        secant = True
        while hi - lo > 1 and len(sizes) < MAX_TARGET_ENCODES and sizes[lo] < 0.995 * size:
            if secant:   # log-size is near linear in quality between close qualities
                a, b = math.log(sizes[lo]), math.log(sizes[hi])
                f = (math.log(size) - a) / (b - a) if b > a else 0.5
                k = lo + round(f * (hi - lo))
            else:
                k = (lo + hi) // 2
            k = min(hi - 1, max(lo + 1, k))
            secant = not secant
            if encode(k) <= size:
                lo = k
            else:
                hi = k
        best = max((k for k, n in sizes.items() if n <= size), key=lambda k: (sizes[k], k))
    else:
        best = hi
    res = files[best]
    if reconstruct:   # the same bytes again, with the decoder's picture
        res = compress_full(rgb, model, quantizer, seed, reconstruct=True, arithmetic=arithmetic,
                            quality=best / grid)
    if len(res.data) > size:
        raise CodecError(f"internal: target search returned {len(res.data)} bytes over {size}")
    return Targeted(res, best / grid, len(sizes) + int(reconstruct))


def model_for(header: container.Header, model: LoadedModel | None = None,
              device: str | None = None) -> LoadedModel:
    """The model a file needs: the given one if it matches, else a shipped one."""
    if model is not None:
        if model.model_id != header.model_id or model.digest != header.digest:
            raise ModelMismatch(f"file was made with other weights ({models.entry_by_id(header.model_id).name}, "
                                f"digest {header.digest.hex()}) than checkpoint digest {model.digest.hex()}")
        return model
    name = models.entry_by_id(header.model_id).name
    path = shipped.find(name, header.digest, int(header.quality))
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
        m.set_rate(header.quality)
        x_hat = m.net.decompress(sections, g, _dither_fn(QuantizerKind(header.quantizer), header.seed),
                                 file_arithmetic(header, m.net))
    return to_uint8(crop(x_hat, header.height, header.width))
