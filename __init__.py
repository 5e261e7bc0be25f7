"""edgelat: hardware-aware neural architecture search for edge devices.

Importing the package is cheap: TensorFlow is only imported by the modules that
build and convert models, never by timing workers.
"""

from edgelat.errors import EdgelatError

__version__ = "0.1.0"
__all__ = ["EdgelatError", "__version__"]
