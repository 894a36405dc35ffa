"""Classical codecs for comparison, each through its usual Python library.

Every codec is an ``encode(rgb, setting) -> bytes`` and ``decode(bytes) -> rgb``
pair on (H, W, 3) uint8 RGB, plus the sweep of settings that covers roughly
0.1 to 2 bits per pixel on Kodak (the range of the learned models). The file
is the codec's normal container (JFIF, RIFF/WebP, JP2, AVIF/HEIF), so its
whole size is the rate, headers included -- as for our own files.

Choices that move the curves, and why:

- JPEG: libjpeg through Pillow, Huffman tables optimized (lossless, smaller
  files: the stronger anchor), 4:2:0 (what most JPEGs are) and 4:4:4.
- WebP: libwebp lossy, method 6 (slowest, best); always 4:2:0.
- JPEG 2000: OpenJPEG through Pillow, 9/7 wavelet, and the multi-component
  colour transform switched on (Pillow's default leaves it off and codes
  R, G and B separately, which costs about 7 dB at 2 bpp on kodim01). The
  setting is the target rate in bpp, given to OpenJPEG as a ratio to 24 bpp.
- AVIF: libavif through Pillow (>= 11.3 has it built in), default speed 6.
- HEVC intra: x265 through libheif/pillow-heif, the coder inside BPG. 4:4:4
  by default, as CompressAI's published BPG curve.
- JPEG XL: libjxl through pillow-jxl-plugin (GPL-3.0-or-later, an optional
  dependency), effort 7, one thread, a sweep of libjxl's quality (``jxl``).
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from . import jxl
from ..errors import CodecError


class UnknownCodec(CodecError):
    """A codec name not in the table."""


class MissingLibrary(CodecError):
    """The library a codec needs is not installed or lacks that format."""


@dataclass(frozen=True)
class ClassicalCodec:
    """One rate-distortion curve of a classical codec."""

    name: str                      # curve name, e.g. "jpeg-420"
    label: str                     # for tables and plots
    library: str                   # what to install when it is missing
    setting_name: str              # what the sweep varies, e.g. "quality"
    settings: tuple[float, ...]    # the sweep, low rate first
    encode: Callable[[np.ndarray, float], bytes]
    decode: Callable[[bytes], np.ndarray]
    missing: Callable[[], str | None]   # None when usable, else why not

    def check(self) -> None:
        """Raise MissingLibrary naming the library when the codec cannot run."""
        why = self.missing()
        if why:
            raise MissingLibrary(f"codec '{self.name}' needs {self.library}: {why}")


# --- Pillow ----------------------------------------------------------------

def _pillow_feature(feature: str) -> bool:
    from PIL import features
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # older Pillow warns on unknown names
        try:
            return bool(features.check(feature))
        except ValueError:
            return False


def _pillow_missing(feature: str, what: str) -> Callable[[], str | None]:
    def missing() -> str | None:
        import PIL
        return None if _pillow_feature(feature) else f"Pillow {PIL.__version__} was built without {what}"
    return missing


def _pillow_encoder(fmt: str, options: Callable[[float], dict]) -> Callable[[np.ndarray, float], bytes]:
    def encode(rgb: np.ndarray, setting: float) -> bytes:
        from PIL import Image
        buf = io.BytesIO()
        Image.fromarray(rgb, "RGB").save(buf, format=fmt, **options(setting))
        return buf.getvalue()
    return encode


def _pillow_decode(data: bytes) -> np.ndarray:
    from PIL import Image
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


# --- pillow-heif (HEVC) ----------------------------------------------------

def _heif_missing() -> str | None:
    try:
        import pillow_heif
    except ImportError:
        return "it is not installed (pip install pillow-heif)"
    if not pillow_heif.libheif_info().get("HEIF"):
        return "its libheif has no HEVC (x265) encoder"
    return None


def _heif_encoder(chroma: int) -> Callable[[np.ndarray, float], bytes]:
    def encode(rgb: np.ndarray, setting: float) -> bytes:
        import pillow_heif
        buf = io.BytesIO()
        a = np.ascontiguousarray(rgb)
        pillow_heif.encode("RGB", (a.shape[1], a.shape[0]), a.tobytes(), buf,
                           quality=int(setting), chroma=chroma)
        return buf.getvalue()
    return encode


def _heif_decode(data: bytes) -> np.ndarray:
    import pillow_heif
    im = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
    if im.mode != "RGB":
        return np.asarray(im.to_pillow().convert("RGB"), dtype=np.uint8).copy()
    return np.asarray(im, dtype=np.uint8).copy()


# --- the table --------------------------------------------------------------

QUALITY_SWEEP = (5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95)
# Families expand to curves; as an anchor a family means its first curve.
ALIASES = {"jpeg": ("jpeg-420", "jpeg-444"), "avif": ("avif-444",), "hevc": ("hevc-444",),
           "bpg": ("hevc-444",), "jp2": ("jpeg2000",), "jpegxl": ("jxl",), "jpeg-xl": ("jxl",)}


def table() -> dict[str, ClassicalCodec]:
    """Every classical codec by curve name (built on each call: no globals)."""
    jpeg_ok = _pillow_missing("jpg", "libjpeg")
    avif_ok = _pillow_missing("avif", "AVIF support (Pillow >= 11.3 has it built in)")
    codecs = [
        ClassicalCodec("jpeg-420", "JPEG 4:2:0 (libjpeg)", "Pillow with libjpeg", "quality", QUALITY_SWEEP,
                       _pillow_encoder("JPEG", lambda q: {"quality": int(q), "subsampling": 2, "optimize": True}),
                       _pillow_decode, jpeg_ok),
        ClassicalCodec("jpeg-444", "JPEG 4:4:4 (libjpeg)", "Pillow with libjpeg", "quality", QUALITY_SWEEP,
                       _pillow_encoder("JPEG", lambda q: {"quality": int(q), "subsampling": 0, "optimize": True}),
                       _pillow_decode, jpeg_ok),
        ClassicalCodec("webp", "WebP (libwebp)", "Pillow with libwebp", "quality",
                       (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95),
                       _pillow_encoder("WEBP", lambda q: {"quality": int(q), "method": 6}),
                       _pillow_decode, _pillow_missing("webp", "libwebp")),
        ClassicalCodec("jpeg2000", "JPEG 2000 (OpenJPEG)", "Pillow with OpenJPEG", "target bpp",
                       (0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 2.5),
                       _pillow_encoder("JPEG2000", lambda b: {"quality_mode": "rates", "quality_layers": [24.0 / b],
                                                              "irreversible": True, "mct": 1}),
                       _pillow_decode, _pillow_missing("jpg_2000", "OpenJPEG")),
        ClassicalCodec("avif-444", "AVIF 4:4:4 (libavif)", "Pillow with AVIF (>= 11.3)", "quality",
                       (10, 20, 30, 40, 50, 60, 70, 80, 90),
                       _pillow_encoder("AVIF", lambda q: {"quality": int(q), "subsampling": "4:4:4"}),
                       _pillow_decode, avif_ok),
        ClassicalCodec("avif-420", "AVIF 4:2:0 (libavif)", "Pillow with AVIF (>= 11.3)", "quality",
                       (10, 20, 30, 40, 50, 60, 70, 80, 90),
                       _pillow_encoder("AVIF", lambda q: {"quality": int(q), "subsampling": "4:2:0"}),
                       _pillow_decode, avif_ok),
        ClassicalCodec("hevc-444", "HEVC intra 4:4:4 (x265, as in BPG)", "pillow-heif", "quality",
                       (5, 10, 15, 20, 30, 40, 50, 60, 70),
                       _heif_encoder(444), _heif_decode, _heif_missing),
        ClassicalCodec("hevc-420", "HEVC intra 4:2:0 (x265)", "pillow-heif", "quality",
                       (5, 10, 15, 20, 30, 40, 50, 60, 70),
                       _heif_encoder(420), _heif_decode, _heif_missing),
        ClassicalCodec("jxl", f"JPEG XL (libjxl, effort {jxl.EFFORT})", jxl.LIBRARY, "quality",
                       (5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90),
                       jxl.encode, jxl.decode, jxl.missing),
    ]
    return {c.name: c for c in codecs}


def known_names() -> list[str]:
    return sorted(set(table()) | set(ALIASES))


def resolve(names: Iterable[str]) -> list[ClassicalCodec]:
    """Curve names or family aliases -> codecs, in order, without repeats.
    Unknown names raise UnknownCodec; availability is not checked here."""
    t = table()
    out: list[ClassicalCodec] = []
    for name in names:
        key = name.strip().lower()
        if key not in t and key not in ALIASES:
            raise UnknownCodec(f"unknown codec '{name}' (known: {', '.join(known_names())})")
        for curve in ALIASES.get(key, (key,)):
            if all(c.name != curve for c in out):
                out.append(t[curve])
    return out


def anchor_name(name: str) -> str | None:
    """The curve an anchor name means (a family means its first curve), or
    None when it is no classical codec."""
    key = name.strip().lower()
    if key in ALIASES:
        return ALIASES[key][0]
    return key if key in table() else None


def library_versions() -> tuple[str, ...]:
    """The codec libraries of this run, for the summary: curves move with them."""
    import PIL
    from PIL import features
    libs = []
    for feature, lib in (("libjpeg_turbo", "libjpeg-turbo"), ("jpg", "libjpeg"), ("webp", "libwebp"),
                         ("jpg_2000", "OpenJPEG"), ("avif", "libavif")):
        try:
            libs += [f"{lib} {features.version(feature)}"] if features.version(feature) else []
        except ValueError:        # a Pillow that does not know the feature
            pass
    out = [f"Pillow {PIL.__version__} ({', '.join(libs)})"]
    out += [jxl.version()] if jxl.version() else []
    try:
        import pillow_heif
    except ImportError:
        return tuple(out)
    info = pillow_heif.libheif_info()
    hevc = info.get("HEIF") or "no HEVC encoder"
    return tuple(out + [f"pillow-heif {pillow_heif.__version__} (libheif {info.get('libheif')}, {hevc})"])


def format_setting(value: float) -> str:
    """A sweep setting as written in the CSV: '50' for integers, '0.15' else."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
