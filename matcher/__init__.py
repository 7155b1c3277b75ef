"""fostermatch: geospatial foster-home matching for Norwegian child welfare.

The engine recommends; people decide.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fostermatch")
except PackageNotFoundError:  # running from a checkout without installing
    __version__ = "0.0.0+checkout"

__all__ = ["__version__"]
