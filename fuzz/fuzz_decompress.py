"""Fuzz target over ``codec.decompress``: no input may crash it or run away.

    python fuzz/fuzz_decompress.py --seconds 60              # plain mutation loop
    python fuzz/fuzz_decompress.py --atheris --seconds 1800  # coverage-guided (atheris)
    python fuzz/fuzz_decompress.py --shipped ...             # also the shipped checkpoints

A finding is any exception that is not a ``CodecError`` (the one-line errors
the CLI turns into exit 2), or an input that takes more than ``--slow``
seconds of CPU time (CPU, not wall time: on a loaded machine at nice 19 a
0.2 s decode can take 20 s of wall time). Each
is saved under ``--findings`` (default fuzz/findings/, not committed) with its
exception; keep the ones worth keeping in tests/fuzz_regressions/.

Mutations are structured and keep the CRC valid (the CRC only detects
accidents): header fields (through ``container.Header``, so new fields of a
later format version are mutated too), the section table (shape, symbol range,
count and order of sections) and payload bytes, re-packed by ``container.pack``;
plus raw byte mutations anywhere before the CRC with the CRC recomputed, which
reach the header parser with values ``pack`` would refuse. The seed corpus
(fuzz/corpus/, made by fuzz/make_corpus.py with the tiny models in
fuzz/models/) holds real files of every family, both quantizers.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import random
import resource
import sys
import time
import traceback
import zlib
from pathlib import Path
from typing import Callable, NamedTuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

SLOW_SECONDS = 20.0
_INTS = (0, 1, 2, 3, 7, 8, 15, 16, 17, 63, 64, 65, 255, 256, 1023, 1024, 4095, 4096, 4097,
         16383, 16384, 16385, 65535, 65536, (1 << 31) - 1, 1 << 31, (1 << 32) - 1)


class Stats(NamedTuple):
    executions: int
    findings: list[dict]
    seconds: float
    max_rss_mb: float


def _crc_fixed(body: bytes) -> bytes:
    """``body`` (everything before the CRC) with a valid CRC32 appended."""
    return body + zlib.crc32(body).to_bytes(4, "little")


def _int_like(rng: random.Random, v: int) -> int:
    r = rng.random()
    if r < 0.3:
        return rng.choice(_INTS) * rng.choice((1, 1, 1, -1))
    if r < 0.7:
        return v + rng.choice((-2, -1, 1, 2, 3, 16, -16, 64))
    return rng.getrandbits(rng.choice((1, 4, 8, 16, 32, 64)))


def _payload(rng: random.Random, p: bytes, others: list[bytes]) -> bytes:
    op = rng.randrange(9)
    if op == 0:
        return b""
    if op == 1 and p:
        i = rng.randrange(len(p))
        return p[:i] + bytes([p[i] ^ (1 << rng.randrange(8))]) + p[i + 1:]
    if op == 2:
        return p[: rng.randrange(len(p) + 1)]
    if op == 3:
        return p + bytes(rng.getrandbits(8) for _ in range(rng.choice((1, 3, 4, 8, 64))))
    if op == 4:
        return bytes(rng.getrandbits(8) for _ in range(rng.choice((4, 8, 64, len(p) or 4))))
    if op == 5:
        return bytes(len(p))
    if op == 6:
        return b"\xff" * (len(p) or 4)
    if op == 7 and others:
        return rng.choice(others)
    return p[::-1]


def structured_mutation(data: bytes, rng: random.Random) -> bytes:
    """One CRC-keeping mutation of a valid file (or a raw one if it does not parse)."""
    from codec import container
    try:
        header, sections = container.unpack(data)
    except Exception:
        return raw_mutation(data, rng)
    choice = rng.randrange(10)
    try:
        if choice < 3:   # a header field, by name (generic over format versions)
            fields = [f for f in dataclasses.fields(header) if isinstance(getattr(header, f.name), int)]
            f = rng.choice(fields)
            header = dataclasses.replace(header, **{f.name: _int_like(rng, getattr(header, f.name))})
        elif choice < 5:  # one section's table entry
            i = rng.randrange(len(sections))
            s = sections[i]
            what = rng.randrange(3)
            if what == 0:
                shape = list(s.shape)
                j = rng.randrange(3)
                shape[j] = max(0, _int_like(rng, shape[j])) & 0xFFFF
                s = dataclasses.replace(s, shape=tuple(shape))
            elif what == 1:
                s = dataclasses.replace(s, lo=max(-(1 << 31), min((1 << 31) - 1, _int_like(rng, s.lo))))
            else:
                s = dataclasses.replace(s, hi=max(-(1 << 31), min((1 << 31) - 1, _int_like(rng, s.hi))))
            sections = sections[:i] + [s] + sections[i + 1:]
        elif choice < 8:  # payload bytes
            i = rng.randrange(len(sections))
            others = [x.payload for j, x in enumerate(sections) if j != i]
            sections = sections[:i] + [dataclasses.replace(sections[i], payload=_payload(
                rng, sections[i].payload, others))] + sections[i + 1:]
        else:            # the section list: drop, duplicate, swap
            op = rng.randrange(3)
            if op == 0 and len(sections) > 1:
                sections.pop(rng.randrange(len(sections)))
            elif op == 1:
                sections.insert(rng.randrange(len(sections) + 1), rng.choice(sections))
            else:
                rng.shuffle(sections)
        return container.pack(header, sections)
    except (ValueError, OverflowError, TypeError, Exception):  # pack refused the values: go raw
        return raw_mutation(data, rng)


def raw_mutation(data: bytes, rng: random.Random) -> bytes:
    """Flip, set or splice bytes before the CRC, then recompute the CRC."""
    body = bytearray(data[:-4] if len(data) > 4 else data)
    if not body:
        return _crc_fixed(bytes(rng.getrandbits(8) for _ in range(rng.randrange(64))))
    for _ in range(rng.choice((1, 1, 2, 4))):
        if not body:
            break
        i = rng.randrange(min(len(body), 64) if rng.random() < 0.7 else len(body))
        op = rng.randrange(4)
        if op == 0:
            body[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            body[i] = rng.choice((0, 1, 0x7F, 0x80, 0xFF))
        elif op == 2:
            del body[i:i + rng.randrange(1, 5)]
        else:
            body[i:i] = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 5)))
    return _crc_fixed(bytes(body))


def mutate(data: bytes, rng: random.Random) -> bytes:
    return structured_mutation(data, rng) if rng.random() < 0.8 else raw_mutation(data, rng)


class Target:
    """Calls ``codec.decompress`` with the matching preloaded model; records findings."""

    def __init__(self, model_dirs: list[Path], findings: Path | None, slow: float = SLOW_SECONDS):
        from codec import api
        self.api = api
        self.models = {}
        for d in model_dirs:
            for p in sorted(d.glob("*.pt")):
                m = api.load_model(p, device="cpu")
                self.models[(m.model_id, m.digest)] = m
        self.findings_dir, self.slow = findings, slow
        self.findings: list[dict] = []
        self.executions = 0

    def __call__(self, data: bytes) -> None:
        from codec import container
        from codec.errors import CodecError
        self.executions += 1
        t0 = time.process_time()
        try:
            try:
                h, _ = container.unpack(data)
                model = self.models.get((h.model_id, h.digest))
            except CodecError:
                model = None
            if model is None and self.models:
                model = next(iter(self.models.values()))
            self.api.decompress(data, model)
        except CodecError:
            pass
        except Exception as e:  # a finding: anything but the one-line errors
            self._record(data, f"{type(e).__name__}: {str(e)[:200]}", traceback.format_exc())
        dt = time.process_time() - t0
        if dt > self.slow:
            self._record(data, f"slow: {dt:.1f} s of CPU", "")

    def _record(self, data: bytes, what: str, tb: str) -> None:
        key = zlib.crc32(data) ^ len(data)
        self.findings.append({"what": what, "crc": f"{key:08x}", "bytes": len(data)})
        if self.findings_dir is not None:
            self.findings_dir.mkdir(parents=True, exist_ok=True)
            (self.findings_dir / f"finding-{key:08x}.lic").write_bytes(data)
            (self.findings_dir / f"finding-{key:08x}.txt").write_text(what + "\n" + tb)


def load_corpus(folder: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(folder.glob("*.lic"))]


def run_plain(target: Callable[[bytes], None], corpus: list[bytes], seconds: float,
              seed: int = 0, max_executions: int | None = None) -> int:
    """Mutation loop without coverage feedback: mutate seeds (1-3 steps) until time is up."""
    rng = random.Random(seed)
    t_end = time.monotonic() + seconds
    n = 0
    for data in corpus:           # the seeds themselves first
        target(data)
        n += 1
    while time.monotonic() < t_end and (max_executions is None or n < max_executions):
        data = rng.choice(corpus)
        for _ in range(rng.choice((1, 1, 2, 3))):
            data = mutate(data, rng)
        target(data)
        n += 1
    return n


def run_atheris(target: Target, corpus_dir: Path, seconds: float, argv_extra: list[str]) -> None:
    """Coverage-guided: libFuzzer drives, our mutator keeps the CRC valid."""
    import atheris

    def mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 0.25:
            out = atheris.Mutate(data, max_size)
            return _crc_fixed(out[:-4] if len(out) > 4 else out)
        return mutate(data, rng)[:max_size]

    work = HERE / "findings" / "atheris-corpus"
    work.mkdir(parents=True, exist_ok=True)
    args = [sys.argv[0], f"-max_total_time={int(seconds)}", "-timeout=300", "-rss_limit_mb=12000",
            "-max_len=4096", str(work), str(corpus_dir), *argv_extra]
    atheris.Setup(args, target, custom_mutator=mutator)
    atheris.Fuzz()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--atheris", action="store_true", help="coverage-guided with atheris (pip install atheris)")
    p.add_argument("--shipped", action="store_true", help="also load checkpoints/*.pt")
    p.add_argument("--corpus", type=Path, default=HERE / "corpus")
    p.add_argument("--findings", type=Path, default=HERE / "findings")
    p.add_argument("--slow", type=float, default=SLOW_SECONDS,
                   help="CPU seconds after which an input is a finding")
    p.add_argument("--stats", type=Path, help="write a JSON summary here at the end")
    a, extra = p.parse_known_args()
    import warnings
    warnings.filterwarnings("ignore", category=FutureWarning)
    if a.atheris:  # instrument our package for coverage before anything imports it
        import atheris
        with atheris.instrument_imports(include=["codec"]):
            import codec.api  # noqa: F401
            import codec.entropy  # noqa: F401
            import codec.rangecoder  # noqa: F401
    dirs = [HERE / "models"]
    if a.shipped:
        from codec import shipped
        dirs.append(shipped.checkpoint_dir())
    target = Target(dirs, a.findings, a.slow)
    t0 = time.monotonic()

    def report() -> None:
        s = Stats(target.executions, target.findings, time.monotonic() - t0,
                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        line = json.dumps(s._asdict())
        print(f"fuzz: {s.executions} executions in {s.seconds:.0f} s, {len(s.findings)} findings, "
              f"max RSS {s.max_rss_mb:.0f} MB", file=sys.stderr)
        if a.stats:
            a.stats.write_text(line + "\n")

    if a.atheris:
        import atexit
        atexit.register(report)
        run_atheris(target, a.corpus, a.seconds, extra)
    else:
        run_plain(target, load_corpus(a.corpus), a.seconds, a.seed)
        report()
    sys.exit(1 if target.findings else 0)


if __name__ == "__main__":
    main()
