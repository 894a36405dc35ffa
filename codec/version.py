"""The package version, in a leaf module (imports nothing) so any module can
read it without importing ``codec/__init__``."""
__version__ = "0.1.0"
