"""Errors of channel simulation: bad input, never a bug (all are CodecErrors)."""
from __future__ import annotations

from ..errors import CodecError


class ChannelError(CodecError):
    """Base class of the channel-simulation errors."""


class BadParameter(ChannelError):
    """A parameter is non-finite, out of range or below float64 resolution."""


class NotAbsolutelyContinuous(ChannelError):
    """Q puts mass where P has none (or is wider than P): dQ/dP is unbounded."""


class BoundViolated(ChannelError):
    """The stated bound on the density ratio dQ/dP does not hold."""


class SearchCapExceeded(ChannelError):
    """A search would examine (or has examined) more proposals than its cap."""


class CorruptCode(ChannelError):
    """A code cannot be decoded (truncated, or made with other parameters)."""


class UnboundedRatio(NotAbsolutelyContinuous):
    """dQ/dP has no finite bound (e.g. Q is a Gaussian at least as wide as P)."""
