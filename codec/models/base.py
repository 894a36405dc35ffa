"""What every model shares: its config, its geometry, typed stage outputs and
the frozen coding state.

A model states its stages (analysis, hyper analysis, entropy parameters,
synthesis); ``forward`` (training), ``compress`` and ``decompress`` are short
compositions of them, written in the model's own file. Everything the rest of
the package needs to know about a family is declared here as data:

* ``latent_paths``: for each coded latent, in file (section) order, the
  modules that lead from the image to it. Strides and channel counts are read
  off their convolutions (``geometry``), never written as literals.
* ``cpu_parts``: the children that decide entropy-coding parameters; the API
  keeps them on the CPU in float32 on both sides so files cross devices.
* frozen tables: one per ``FactorizedDensity`` child, built by ``freeze``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar, NamedTuple

import torch
from torch import Tensor, nn

from ..container import Section
from ..entropy import FactorizedDensity, FrozenFactorized, FrozenTables
from ..errors import CorruptFile, NotFrozen, ParameterMismatch
from ..quantize import dequantize, quantize
from .integer import Arithmetic

# dither(stream, shape) -> Tensor for universal quantization, or None (rounding)
DitherFn = Callable[[int, tuple[int, ...]], "Tensor | None"]


def no_dither(stream: int, shape: tuple[int, ...]) -> None:
    return None


@dataclass
class ModelConfig:
    """What every family's config holds: the registry name and the quality
    index (informative: it names the shipped file and goes into headers).
    A family subclasses it with its own hyper-parameters and defaults."""

    name: str = "mean-scale"       # registry name
    quality: int = 3               # index into the lambda table (informative)


@dataclass
class TransformConfig(ModelConfig):
    """The Balle-family transforms: N channels in the transforms and the
    hyper-latent, M channels in the latent y (published: 128/192, 192/320)."""

    N: int = 128
    M: int = 192


class LatentShape(NamedTuple):
    """(channels, height, width) of one coded latent."""

    channels: int
    height: int
    width: int


@dataclass(frozen=True)
class Geometry:
    """Sizes for one image of height x width pixels under one model.

    stride:  the largest downsampling factor of any latent; images are padded
             (bottom/right, edge replicate) to multiples of it.
    padded:  (Hp, Wp), the padded size the transforms see.
    latents: latent name -> LatentShape, in section order of the file.
    """

    height: int
    width: int
    stride: int
    padded: tuple[int, int]
    latents: dict[str, LatentShape]

    @property
    def pad(self) -> tuple[int, int]:
        """Rows and columns added at the bottom and right."""
        return self.padded[0] - self.height, self.padded[1] - self.width

    def shape(self, name: str) -> tuple[int, int, int, int]:
        """(1, C, h, w) of latent ``name``, as the coders take it."""
        return (1, *self.latents[name])


class RateDistortionOutput(NamedTuple):
    """Training forward: reconstruction and per-latent likelihoods (fp32)."""

    x_hat: Tensor                      # (B, 3, H, W)
    likelihoods: dict[str, Tensor]     # name -> same shape as the latent


@dataclass(frozen=True)
class Latents:
    """The continuous latents of one image, between analysis and coding.

    ``encode_latents`` makes them (y = g_a(x), and z = h_a(y) for hyperprior
    families); ``compress_latents`` quantizes and codes them with the unchanged
    coder. Between the two an encoder may change them (``codec.refine``): the
    decoder only ever sees the coded integers, so the file format does not
    depend on how the latents were found.

    y: (1, M, h, w) float32; z: (1, N, h/4, w/4) float32 or None (factorized).
    Both contiguous NCHW on the CPU, the layout the coder and h_s expect (see
    ``to_cpu_f32``).
    """

    y: Tensor
    z: Tensor | None = None

    def names(self) -> tuple[str, ...]:
        return ("y",) if self.z is None else ("z", "y")

    def detached(self) -> "Latents":
        """The same values as plain CPU fp32 contiguous tensors, no autograd history."""
        return Latents(to_cpu_f32(self.y), None if self.z is None else to_cpu_f32(self.z))


# quantizer(v, centre, offset) -> v_hat: how ``latent_rd`` turns a latent into
# (a proxy of) its dequantized value, e.g. round(v - centre - offset) + centre + offset,
# or a relaxation of that rounding (codec.refine). offset is the dither (UQ) or None.
LatentQuantizer = Callable[[Tensor, Tensor, "Tensor | None"], Tensor]


def hard_quantizer(v: Tensor, centre: Tensor, offset: Tensor | None) -> Tensor:
    """The coder's rule, k = round(v - centre [- offset]), v_hat = k + centre [+ offset]."""
    return dequantize(quantize(v, centre, offset), centre, offset)


class Coded(NamedTuple):
    """Encoder result: the sections to store and what the decoder will rebuild."""

    sections: list[Section]
    y_hat: Tensor      # (1, M, h, w) dequantized latent; synthesis(y_hat) equals decompress()
    bits: float        # -log2 P of all coded symbols under the coding models


def _convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


class CodecModel(nn.Module):
    """Base: config, geometry, frozen-table plumbing; subclasses define the stages."""

    latent_paths: ClassVar[dict[str, tuple[str, ...]]] = {"y": ("g_a",)}
    cpu_parts: ClassVar[tuple[str, ...]] = ("entropy_bottleneck",)
    #: factorized densities whose latent is coded with dither under universal
    #: quantization: their frozen tables carry the CDF grid (codec.entropy)
    dithered_densities: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: TransformConfig):
        super().__init__()
        self.config = config
        self.N, self.M = config.N, config.M
        self._coders: dict[str, FrozenFactorized] = {}

    # --- geometry ------------------------------------------------------------
    def latent_stride(self, name: str) -> int:
        """Downsampling factor image -> latent ``name``: product of conv strides."""
        s = 1
        for part in self.latent_paths[name]:
            for c in _convs(getattr(self, part)):
                if c.stride[0] != c.stride[1]:
                    raise ValueError(f"{part}: non-square stride {c.stride}")
                s *= c.stride[0]
        return s

    @property
    def stride(self) -> int:
        """Padding multiple: the largest latent stride."""
        return max(self.latent_stride(n) for n in self.latent_paths)

    def geometry(self, height: int, width: int) -> Geometry:
        """Pad and latent sizes for a height x width image (see Geometry)."""
        s = self.stride
        Hp, Wp = -(-height // s) * s, -(-width // s) * s
        latents = {}
        for name, path in self.latent_paths.items():
            ls = self.latent_stride(name)
            channels = _convs(getattr(self, path[-1]))[-1].out_channels
            latents[name] = LatentShape(channels, Hp // ls, Wp // ls)
        return Geometry(height, width, s, (Hp, Wp), latents)

    def check_sections(self, sections: list[Section], g: Geometry) -> None:
        """Decoder side: section count and shapes match the model's geometry."""
        names = list(g.latents)
        if len(sections) != len(names):
            raise CorruptFile(f"expected {len(names)} section(s) ({', '.join(names)}), found {len(sections)}")
        for name, s in zip(names, sections):
            if tuple(s.shape) != tuple(g.latents[name]):
                raise CorruptFile(f"latent {name} has shape {tuple(s.shape)}, the model expects "
                                  f"{tuple(g.latents[name])} for a {g.height}x{g.width} image")

    # --- frozen coding state -------------------------------------------------
    def freeze(self) -> FrozenTables:
        """Build the coding tables of every factorized density (once, after training)."""
        tables = FrozenTables({name: m.tables(grid=name in self.dithered_densities)
                               for name, m in self.named_children() if isinstance(m, FactorizedDensity)})
        self.load_tables(tables)
        return tables

    def load_tables(self, tables: FrozenTables) -> None:
        self._coders = {name: FrozenFactorized(t, getattr(self, name)) for name, t in tables.factorized.items()}

    @property
    def frozen(self) -> bool:
        return bool(self._coders)

    def default_arithmetic(self) -> Arithmetic:
        """The rule a new file's probabilities follow by default: INTEGER (the
        portable one: exact integer entropy parameters, frozen tables and CDF
        grids; decodes bit-exactly on every machine) when this model's frozen
        state supports it, else FLOAT (a checkpoint exported before the CDF
        grid existed: its dithered files decode only where the float32
        density gives the encoder's bits)."""
        if all(self.coder(n).has_grid for n in self.dithered_densities):
            return Arithmetic.INTEGER
        return Arithmetic.FLOAT

    def coder(self, name: str) -> FrozenFactorized:
        """The frozen coder of density ``name``; NotFrozen before ``freeze``/``load_tables``."""
        if name not in self._coders:
            raise NotFrozen(f"model '{self.config.name}' has no frozen tables for {name}: "
                            "freeze it first (model.freeze(), or export the checkpoint)")
        return self._coders[name]

    def aux_loss(self) -> Tensor:
        return sum(m.aux_loss() for m in self.children() if isinstance(m, FactorizedDensity))

    def synthesis(self, y_hat: Tensor) -> Tensor:
        return self.g_s(y_hat.to(next(self.g_s.parameters()).device))

    def analysis(self, x: Tensor) -> Tensor:
        return self.g_a(x)

    # --- the encoder split in two (see Latents) ----------------------------------
    # A family's ``compress(x, dither, arithmetic)`` is
    # ``compress_latents(encode_latents(x), dither, arithmetic)``.
    def encode_latents(self, x: Tensor) -> Latents:
        """Image (1, 3, Hp, Wp) -> its latents (the amortized guess of g_a)."""
        raise NotImplementedError

    def compress_latents(self, latents: Latents, dither: DitherFn = no_dither, arithmetic=None) -> Coded:
        raise NotImplementedError

    def latent_rd(self, latents: Latents, quantizer: LatentQuantizer,
                  dither: DitherFn = no_dither) -> RateDistortionOutput:
        """Reconstruction and likelihoods of given latents, differentiable in them.

        Only what depends on the latents runs (entropy parameters, g_s): no
        g_a. With ``hard_quantizer`` the likelihoods are those of the symbols
        the float coder would write (the integer-arithmetic coder's means
        differ in the last bits) and x_hat is what the decoder shows before
        clipping; ``codec.refine`` passes a relaxed quantizer instead.
        """
        raise NotImplementedError


def decode_float_file(decode: Callable[[], Tensor]) -> Tensor:
    """Run ``decode`` of a float-arithmetic latent: a CRC-valid section that
    will not decode means this machine's float32 kernels give other
    probabilities than the encoder's; say so in one line."""
    try:
        return decode()
    except (AssertionError, ValueError, RuntimeError, CorruptFile) as e:
        raise ParameterMismatch(
            "this file's probabilities were computed in float arithmetic and this machine's "
            "float kernels give different values, so it cannot be decoded here (re-encode it with "
            f"integer arithmetic, the default) [{type(e).__name__}]") from None


def to_cpu_f32(t: Tensor) -> Tensor:
    """Latents leave the transforms as contiguous NCHW fp32 on the CPU.

    Contiguity matters: the decoder rebuilds latents from the range coder in
    NCHW, and h_s must see the same memory layout on both sides, or oneDNN may
    pick another convolution algorithm and the entropy parameters differ in
    the last bits (observed with channels_last inputs: decode fails)."""
    return t.detach().float().cpu().contiguous()


def rate_bits(likelihoods: dict[str, Tensor], per_example: bool = False) -> Tensor:
    """-log2 likelihood over all latents: the batch total (fp32 scalar), or with
    ``per_example`` each example's own total, (B,) fp32 (a variable-rate batch
    weighs each example's rate against its own lambda)."""
    if per_example:
        return sum((-torch.log2(p)).flatten(1).sum(1) for p in likelihoods.values())
    return sum((-torch.log2(p)).sum() for p in likelihoods.values())
