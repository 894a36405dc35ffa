"""codec: learned image compression of the Balle family.

Glossary (paper notation, used for locals throughout):

    x          input image, (B, 3, H, W) float in [0, 1]
    y          latent from the analysis transform g_a, (B, M, H/16, W/16)
    z          hyper-latent from h_a, (B, N, H/64, W/64)
    y_tilde    y + U(-1/2, 1/2): training proxy of quantization
    y_hat      dequantized latent the decoder sees
    k          integer symbols handed to the range coder
    u          shared dither of universal quantization
    mu, sigma  mean / scale predicted by h_s for each element of y
    x_hat      reconstruction from g_s
    lambda     rate-distortion trade-off: loss = lambda * 255^2 * MSE + bpp

Public API: ``codec.compress`` and ``codec.decompress`` (see codec.api).
"""
from .version import __version__

# compress/decompress import codec.api (and so torch) when first called, not
# when the package is imported: `import codec.container` (the file format),
# `codec.version` and the campaign's `status` must stay light. This is the
# one deliberate function-local import of a package module: it guards torch.


def compress(*args, **kwargs):
    """See codec.api.compress."""
    from .api import compress as _c
    return _c(*args, **kwargs)


def decompress(*args, **kwargs):
    """See codec.api.decompress."""
    from .api import decompress as _d
    return _d(*args, **kwargs)
