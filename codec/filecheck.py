"""A file's sections checked against its model family's geometry, once.

``container.unpack`` proves a file is well formed (magic, version, lengths,
CRC); this module proves it is plausible for the model it names, before any
decoding allocates: the family's number of sections, every section's symbol
range and payload length for its symbol count (``limits.payload_bounds``),
and -- with the model at hand -- the pixel limit of its width N and the
latent shapes its geometry gives for the header's image size.

Both ``api.decompress`` and ``codec info`` call ``check_file``, so ``info``
never reports a file as fine that ``decompress`` would refuse for its shape.
"""
from __future__ import annotations

from . import limits, models
from .container import Header, Section
from .entropy import check_payload
from .errors import CorruptFile
from .models.base import Geometry
from .models.variable_rate import is_variable_rate
from .rangecoder import check_alphabet


def check_structure(header: Header, sections: list[Section]) -> models.ModelEntry:
    """What can be checked without weights: family, section count, ranges, payloads."""
    family = models.entry_by_id(header.model_id)
    names = list(family.cls.latent_paths)
    if len(sections) != len(names):
        raise CorruptFile(f"{family.name} files hold {len(names)} section(s) ({', '.join(names)}), "
                          f"this one {len(sections)}")
    for name, s in zip(names, sections):
        if min(s.shape) < 1:
            raise CorruptFile(f"latent {name} has an empty shape {tuple(s.shape)}")
        check_alphabet(s.lo, s.hi)
        check_payload(s)
    return family


def check_file(header: Header, sections: list[Section], net: models.CodecModel | None = None) -> Geometry | None:
    """Raise CorruptFile (one line) for anything implausible; the geometry when ``net`` is given."""
    check_structure(header, sections)
    if net is None:
        return None
    problem = limits.check_pixels(header.height, header.width, net.N)
    if problem:
        raise CorruptFile(f"header: {problem}")
    if is_variable_rate(net):
        lo, hi = net.quality_range
        if not lo <= header.quality <= hi:
            raise CorruptFile(f"header quality {header.quality:g} is outside the model's range {lo}..{hi}")
    g = net.geometry(header.height, header.width)
    net.check_sections(sections, g)
    return g
