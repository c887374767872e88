"""The installed distribution's version: pyproject.toml is the one place it is written."""

from importlib import metadata

try:
    __version__ = metadata.version("optikit")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
