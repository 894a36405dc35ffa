"""The compressed file format, and only it (no torch, no model code).

Format version 4. All integers little-endian.

    offset  size  field
    0       4     magic b"\\x89LIC"
    4       1     format version (4; 1, 2 and 3 are still read)
    5       2     model id (u16, stable, from the model registry)
    7       2     quality (u16, fixed point x256: the rate setting, a real
                  number on a 1/256 grid; a variable-rate model decodes at it,
                  a fixed-rate model's file holds its quality index, informative)
                  -- versions 1 and 2: a u8 quality index here, and every
                  later offset one byte lower
    9       8     weights digest: first 8 bytes of SHA-256 over the checkpoint's
                  weights and frozen tables (see codec.checkpoint)
    17      4     image height in pixels (u32, 1..MAX_SIDE)
    21      4     image width in pixels (u32, 1..MAX_SIDE)
    25      1     quantizer id (0 rounding, 1 universal quantization)
    26      1     probability arithmetic (0 float32, 1 portable: integer
                  entropy parameters, and from version 4 the frozen CDF grid
                  for a dithered factorized latent; see codec.models.integer
                  and codec.entropy) -- absent in version 1 (read as 0)
    ..      8     dither seed (u64) -- present only when quantizer id is 1
    ..      1     number of sections S (1..MAX_SECTIONS)
    ..      18*S  section table, per section: channels, height, width (u16 x3),
                  lowest and highest symbol of its alphabet (i32 x2),
                  payload length in bytes (u32)
    ..      sum   payloads, in table order (range-coder words)
    end-4   4     CRC32 of every byte before it

Version 4 has the layout of version 3; it is new in meaning: a factorized
model's file with arithmetic byte 1 and universal quantization takes its
probabilities from the frozen CDF grid (in versions 1-3 such a file used the
float32 density whatever the byte said), so a version-3 decoder must refuse it.

Sections are ordered hyper-latent first (z, then y) so a decoder can stream.
`unpack` checks, before anything large is allocated, that the magic, version,
sizes, quantizer and total length are consistent and that the CRC matches;
it never trusts a length it has not compared with the bytes actually present.
Any change to these bytes bumps FORMAT_VERSION (golden tests pin them).
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from .errors import CorruptFile
from .limits import MAX_SECTIONS, MAX_SIDE

MAGIC = b"\x89LIC"
FORMAT_VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)
_START = struct.Struct("<4sBH")           # magic, version, model id
_REST = {2: struct.Struct("<B8sIIB"),     # versions 1, 2: u8 quality index .. quantizer id
         3: struct.Struct("<H8sIIB")}     # versions 3, 4: u16 quality x QUALITY_SCALE .. quantizer id
QUALITY_SCALE = 256                       # quality fixed point: 1/256 steps
QUALITY_LIMIT = ((1 << 16) - 1) / QUALITY_SCALE
_ARITHMETIC = struct.Struct("<B")
_SEED = struct.Struct("<Q")
_COUNT = struct.Struct("<B")
_SECTION = struct.Struct("<HHHiiI")
_CRC = struct.Struct("<I")
QUANTIZER_IDS = (0, 1)
UNIVERSAL_ID = 1
ARITHMETIC_IDS = (0, 1)


@dataclass(frozen=True)
class Section:
    """One coded latent: its shape (C, H, W), alphabet [lo, hi], payload."""

    shape: tuple[int, int, int]
    lo: int
    hi: int
    payload: bytes = field(repr=False)


@dataclass(frozen=True)
class Header:
    """Everything a decoder must know before touching the payloads."""

    model_id: int
    quality: float         # rate setting on the 1/256 grid (versions 1-2: an integer index)
    digest: bytes          # 8 bytes
    height: int
    width: int
    quantizer: int
    seed: int = 0
    arithmetic: int = 0    # 0 float32 probabilities, 1 portable (integer / frozen grid)
    version: int = field(default=FORMAT_VERSION, compare=False)  # read from the file; pack writes FORMAT_VERSION


def pack(header: Header, sections: list[Section]) -> bytes:
    """Serialize a header and its sections; raises ValueError on bad fields."""
    if len(header.digest) != 8:
        raise ValueError("digest must be 8 bytes")
    if not (1 <= header.height <= MAX_SIDE and 1 <= header.width <= MAX_SIDE):
        raise ValueError(f"image size {header.height}x{header.width} outside 1..{MAX_SIDE}")
    if header.quantizer not in QUANTIZER_IDS:
        raise ValueError(f"unknown quantizer id {header.quantizer}")
    if header.arithmetic not in ARITHMETIC_IDS:
        raise ValueError(f"unknown arithmetic id {header.arithmetic}")
    if not 1 <= len(sections) <= MAX_SECTIONS:
        raise ValueError("1 to 8 sections")
    q = header.quality * QUALITY_SCALE
    if not (q == int(q) and 0 <= q < 1 << 16):
        raise ValueError(f"quality {header.quality} is not a multiple of 1/{QUALITY_SCALE} in 0..{QUALITY_LIMIT}")
    parts = [_START.pack(MAGIC, FORMAT_VERSION, header.model_id),
             _REST[3].pack(int(q), header.digest, header.height, header.width, header.quantizer),
             _ARITHMETIC.pack(header.arithmetic)]
    if header.quantizer == UNIVERSAL_ID:
        parts.append(_SEED.pack(header.seed))
    parts.append(_COUNT.pack(len(sections)))
    parts += [_SECTION.pack(*s.shape, s.lo, s.hi, len(s.payload)) for s in sections]
    parts += [s.payload for s in sections]
    body = b"".join(parts)
    return body + _CRC.pack(zlib.crc32(body))


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, st: struct.Struct, what: str) -> tuple:
        if self.pos + st.size > len(self.data):
            raise CorruptFile(f"file is truncated: it ends inside the {what}")
        out = st.unpack_from(self.data, self.pos)
        self.pos += st.size
        return out


def unpack(data: bytes) -> tuple[Header, list[Section]]:
    """Parse and validate a file; raises CorruptFile naming the first problem."""
    if len(data) == 0:
        raise CorruptFile("file is empty")
    if not data.startswith(MAGIC[: min(len(data), 4)]) or len(data) < 4:
        raise CorruptFile("not a codec file (bad magic bytes)")
    r = _Reader(data)
    magic, version, model_id = r.take(_START, "header")
    if version not in READABLE_VERSIONS:
        raise CorruptFile(f"unsupported format version {version} (this build reads "
                          f"{', '.join(map(str, READABLE_VERSIONS))})")
    quality, digest, h, w, quantizer = r.take(_REST[3 if version >= 3 else 2], "header")
    quality = quality / QUALITY_SCALE if version >= 3 else quality
    if quantizer not in QUANTIZER_IDS:
        raise CorruptFile(f"unknown quantizer id {quantizer} in header")
    arithmetic = r.take(_ARITHMETIC, "header")[0] if version >= 2 else 0
    if arithmetic not in ARITHMETIC_IDS:
        raise CorruptFile(f"unknown entropy-parameter arithmetic id {arithmetic} in header")
    seed = r.take(_SEED, "header (dither seed missing)")[0] if quantizer == UNIVERSAL_ID else 0
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise CorruptFile(f"header claims a {h}x{w} image; the limit is {MAX_SIDE}x{MAX_SIDE}")
    (count,) = r.take(_COUNT, "header")
    if not 1 <= count <= MAX_SECTIONS:
        raise CorruptFile(f"header claims {count} sections (1..{MAX_SECTIONS} allowed)")
    table = [r.take(_SECTION, "section table") for _ in range(count)]
    expected = r.pos + sum(t[5] for t in table) + _CRC.size
    if expected > len(data):
        raise CorruptFile(f"file is truncated: {len(data)} bytes, header says {expected}")
    if expected < len(data):
        raise CorruptFile(f"file has {len(data) - expected} unexpected trailing bytes")
    (crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
    if zlib.crc32(data[: -_CRC.size]) != crc:
        raise CorruptFile("file is corrupt (CRC32 mismatch)")
    sections = []
    for c, sh, sw, lo, hi, n in table:
        if lo > hi:
            raise CorruptFile("section alphabet is empty (lo > hi)")
        sections.append(Section((c, sh, sw), lo, hi, data[r.pos:r.pos + n]))
        r.pos += n
    header = Header(model_id, quality, digest, h, w, quantizer, seed, arithmetic, version)
    return header, sections
