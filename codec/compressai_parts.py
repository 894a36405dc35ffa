"""The parts of compressai this package reuses (GDN, the deep factorized
density, the Gaussian conditional), imported in one place.

compressai calls ``torch.jit.script`` while it is imported, which torch >= 2.10
flags with a FutureWarning on every run: a library matter, not the user's.
The warning is silenced for that import only (a scoped filter, so importing
this package changes no global warning state).
"""
import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
    from compressai.entropy_models import EntropyBottleneck, GaussianConditional
    from compressai.layers import GDN

__all__ = ["EntropyBottleneck", "GaussianConditional", "GDN"]
