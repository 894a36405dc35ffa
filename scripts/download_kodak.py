"""Download the 24 Kodak images (kodim01..24.png) and verify their SHA-256.

    python scripts/download_kodak.py data/kodak

The images come from their usual public address, Rich Franzen's copy of the
Kodak PhotoCD set. A file already present with the right checksum is kept;
one with the wrong checksum is downloaded again; a download that does not
match the table is not written. Exit status 0 when all 24 are in place.
The tests only use ``verify``, never the network.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import urllib.request
from pathlib import Path

from codec.evaluation.kodak import SHA256   # the table lives in the package: codec eval checks folders with it

URL = "https://r0k.us/graphics/kodak/kodak/{name}"



def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify(folder: Path) -> dict[str, str]:
    """Each Kodak file name -> "ok", "missing" or "wrong checksum"."""
    status = {}
    for name, digest in SHA256.items():
        p = folder / name
        if not p.is_file():
            status[name] = "missing"
        else:
            status[name] = "ok" if sha256(p.read_bytes()) == digest else "wrong checksum"
    return status


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def download(folder: Path, timeout: float = 60.0) -> list[str]:
    """Fetch what is missing or wrong; returns the names that still fail."""
    folder.mkdir(parents=True, exist_ok=True)
    failed = []
    for name, state in verify(folder).items():
        if state == "ok":
            continue
        url = URL.format(name=name)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                data = r.read()
        except OSError as e:
            print(f"{name}: download failed ({e})", file=sys.stderr)
            failed.append(name)
            continue
        if sha256(data) != SHA256[name]:
            print(f"{name}: checksum mismatch for {url}; not written", file=sys.stderr)
            failed.append(name)
            continue
        _write_atomic(folder / name, data)
        print(f"{name}: {len(data)} bytes, checksum ok", file=sys.stderr)
    return failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default="data/kodak", help="where the PNGs go (default: data/kodak)")
    ap.add_argument("--check", action="store_true", help="only verify what is there; no network")
    a = ap.parse_args(argv)
    folder = Path(a.folder)
    if a.check:
        bad = {n: s for n, s in verify(folder).items() if s != "ok"}
        for n, s in bad.items():
            print(f"{n}: {s}", file=sys.stderr)
    else:
        bad = download(folder)
    if bad:
        print(f"{len(bad)} of {len(SHA256)} Kodak images missing or wrong in {folder}", file=sys.stderr)
        return 1
    print(f"all {len(SHA256)} Kodak images present and verified in {folder}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
