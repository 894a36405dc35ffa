"""Decode a .lic file and report digests of what decoding computed (run as a script).

    python tests/portability_probe.py FILE OUT.npy [--threads N] [--no-onednn]

Prints one JSON line: SHA-256 of the entropy parameters of y (integer files:
scale indices and means; float files: scales and means) and whether decoding
succeeded; saves the decoded pixels to OUT.npy. Used by test_portability.py in subprocesses with different kernel
sets (ONEDNN_MAX_CPU_ISA), oneDNN on/off and thread counts.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys

import numpy as np
import torch


def _sha(*tensors) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def digests(data: bytes, model=None) -> dict:
    """Entropy parameters and y_hat of a file, as the decoder computes them."""
    from codec import api, container
    from codec.models.integer import Arithmetic
    from codec.quantize import QuantizerKind
    header, sections = container.unpack(data)
    m = api.model_for(header, model, device="cpu")
    net = m.net
    g = net.geometry(header.height, header.width)
    out = {"arithmetic": header.arithmetic}
    with torch.inference_mode():
        z_hat = net.coder("entropy_bottleneck").decode(sections[0], g.shape("z"), None)
        if header.arithmetic == Arithmetic.INTEGER:
            q = net.exact_parameters(z_hat)
            out["params"] = _sha(q.index, q.means)
        else:
            p = net._cpu(net.entropy_parameters(z_hat))
            out["params"] = _sha(p.scales, p.means)
        try:
            x_hat = net.decompress(sections, g, api._dither_fn(QuantizerKind(header.quantizer), header.seed),
                                   Arithmetic(header.arithmetic))
            out["decoded"] = True
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            out["decoded"], out["error"] = False, f"{type(e).__name__}: {e}"
            return out
    from codec.image import crop, to_uint8
    out["rgb"] = to_uint8(crop(x_hat, header.height, header.width))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("out")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--no-onednn", action="store_true")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.no_onednn:
        torch.backends.mkldnn.enabled = False
    with open(a.file, "rb") as f:
        d = digests(f.read())
    rgb = d.pop("rgb", None)
    if rgb is not None:
        np.save(a.out, rgb)
    print(json.dumps(d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
