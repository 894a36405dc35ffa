"""Errors a user can cause. The CLI prints ``str(error)`` as one line, exit 2."""


class CodecError(Exception):
    """Base class: bad input, never a bug. The message names the problem."""


class CorruptFile(CodecError):
    """A compressed file is truncated, altered or not one of ours."""


class ParameterMismatch(CorruptFile):
    """A float-arithmetic file's entropy parameters differ on this machine: it cannot decode."""


class ModelMismatch(CodecError):
    """A file was made with weights other than the ones available."""


class BadImage(CodecError):
    """An input image cannot be read or is outside the supported range."""


class BadCheckpoint(CodecError):
    """A checkpoint is missing, unreadable or of another schema."""


class ConfigError(CodecError):
    """A config file or override names an unknown key or a wrong type."""


class NotFrozen(CodecError):
    """A model was asked to code before its entropy tables were frozen."""


class OutputExists(CodecError):
    """An output file exists and overwriting it was not asked for (--force)."""
