"""Files of format version 2 (u8 quality index, before the variable-rate
header) still decode, to the pixels they decoded to then.

Made by the version-2 code (main at eeac4c0) from tests/golden/image.png with
the golden test checkpoints (seeded, never retrained, so these pins never move);
the file SHA-256s are the version-2 golden pins. The golden factorized
checkpoint has since gained the CDF grid of format 4 (same weights, same pmf);
the grid is part of the weights digest, so these files are decoded with the
checkpoint as it was then, the grid left out.
"""
import hashlib
from pathlib import Path

import pytest

from codec import api, checkpoint as ckpt_io, container

DATA = Path(__file__).resolve().parent / "data" / "format_v2"
GOLDEN = Path(__file__).resolve().parent / "golden"
PINS = {  # file SHA-256, decoded pixels SHA-256 (48, 64, 3)
    "factorized": ("5b8f67f6b1ab50147b6731ed69b0247663895cea23c2a292f159d1683184f7ee",
                   "99dd9aa30599acac707e3b6dd352dadfead05f30b9e5b20f44a3c6342596b1ed"),
    "mean-scale": ("b330728de39ae3c938971ae7ea15a532e4ee7c8d721c18748129c060b27f81a1",
                   "878d513af56ffe3e7744c14ae9d21223681cc20e0e9ee405f6cc6894996134cc"),
}


@pytest.mark.parametrize("name", sorted(PINS))
def test_format_2_file_decodes_to_its_pinned_pixels(name):
    data = (DATA / f"{name}_round.lic").read_bytes()
    assert hashlib.sha256(data).hexdigest() == PINS[name][0]
    assert data[4] == 2
    header, _ = container.unpack(data)
    assert header.quality == 3 and header.height == 48 and header.width == 64
    c = ckpt_io.load(GOLDEN / f"{name}.pt")
    c.tables = {k: {n: t for n, t in v.items() if n != "grid"} for k, v in c.tables.items()}
    rgb = api.decompress(data, api.model_from_checkpoint(c, "cpu"))
    assert hashlib.sha256(rgb.tobytes()).hexdigest() == PINS[name][1]
