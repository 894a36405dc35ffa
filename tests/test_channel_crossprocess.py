"""Encoder and decoder in different processes agree bit for bit (same seed, same bytes)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

ENCODE = """
import json, sys, numpy as np
from codec.channel import Method, encode
qm = np.linspace(-2, 2, 12); qs = np.geomspace(1e-4, 0.5, 12)
out = {}
for m in Method:
    s = qs if m is Method.BNB else np.maximum(qs, 0.05)
    msg = encode(qm, s, np.full(12, 0.3), np.full(12, 1.7), 424242, m)
    out[m.name] = [msg.data.hex(), msg.samples.tobytes().hex()]
json.dump(out, sys.stdout)
"""

DECODE = """
import json, sys, numpy as np
from codec.channel import Method, decode
out = {}
for name, (data, _) in json.load(sys.stdin).items():
    x = decode(bytes.fromhex(data), np.full(12, 0.3), np.full(12, 1.7), 424242, Method[name])
    out[name] = x.tobytes().hex()
json.dump(out, sys.stdout)
"""


def _run(code: str, stdin: str = "") -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED="123")
    return subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True,
                          env=env, check=True, cwd=str(ROOT)).stdout


@pytest.mark.slow
def test_decoder_in_another_process_reproduces_encoder_samples_bit_exactly():
    encoded = _run(ENCODE)
    again = _run(ENCODE)
    assert encoded == again                       # two encoder processes: same bytes, same samples
    decoded = json.loads(_run(DECODE, encoded))
    for name, (_, samples) in json.loads(encoded).items():
        assert decoded[name] == samples
        assert np.all(np.isfinite(np.frombuffer(bytes.fromhex(samples))))
