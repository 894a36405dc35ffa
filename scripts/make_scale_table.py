"""Write (or --check) the frozen scale table of integer-arithmetic files.

    python scripts/make_scale_table.py            # writes codec/data/scale_table_v1.npz, prints its SHA-256
    python scripts/make_scale_table.py --check    # regenerates in memory; exit 1 unless it equals the
                                                  # committed file and the file has the pinned SHA-256

The committed file is the authority (decoders never regenerate it); writing a
new one means a new table file name, a new pin and a new format version.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import sys
from pathlib import Path

import numpy as np

from codec import scaletable


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    fresh = scaletable.generate().to_arrays()
    path = Path(scaletable.__file__).parent / scaletable.TABLE_FILE
    if not a.check:
        buf = io.BytesIO()
        np.savez_compressed(buf, **fresh)
        path.write_bytes(buf.getvalue())
        print(f"wrote {path} ({len(buf.getvalue())} bytes), SHA-256 {hashlib.sha256(buf.getvalue()).hexdigest()}")
        return 0
    raw = path.read_bytes()
    with np.load(io.BytesIO(raw)) as z:
        same = set(z.files) == set(fresh) and all(np.array_equal(z[k], fresh[k]) and z[k].dtype == fresh[k].dtype
                                                  for k in fresh)
    pinned = hashlib.sha256(raw).hexdigest() == scaletable.TABLE_SHA256
    print(f"regenerated table equals {path.name}: {same}; file SHA-256 is the pinned one: {pinned}")
    return 0 if same and pinned else 1


if __name__ == "__main__":
    sys.exit(main())
