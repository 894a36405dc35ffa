"""Channel simulation (relative entropy coding): send an exact sample of Q using P.

Encoder and decoder share randomness (`randomness`); the encoder searches a
Poisson process of proposals from P and sends a short code, from which the
decoder returns exactly the encoder's sample, distributed as Q.

* `search`: Poisson functional representation (= A* coding) and global GPRS,
  for any pair with a bounded density ratio (`gaussian.GaussianPair`,
  `numeric.NumericPair`); cost ~ 2^D_inf proposals, capped at 2^22.
* `bnb`: branch-and-bound GPRS for 1-D Gaussians; cost linear in D_KL.
* `stretch`: the GPRS stretch function sigma, derived.
* `codes`: integer and direction codes, range-coded with constriction.
* `diagonal`: diagonal Gaussians, dimension by dimension in one message.
"""
from .codes import IntegerPrior
from .diagonal import Message, Method, decode, encode
from .errors import (BadParameter, BoundViolated, ChannelError, CorruptCode,
                     NotAbsolutelyContinuous, SearchCapExceeded, UnboundedRatio)
from .gaussian import GaussianPair
from .randomness import SharedRandomness

__all__ = ["IntegerPrior", "Message", "Method", "decode", "encode", "BadParameter", "BoundViolated",
           "ChannelError", "CorruptCode", "NotAbsolutelyContinuous", "SearchCapExceeded",
           "UnboundedRatio", "GaussianPair", "SharedRandomness"]
