"""edgelat: hardware-aware neural architecture search for edge devices.

Importing the package is cheap: TensorFlow is only imported by the modules that
build and convert models, never by timing workers.
"""

import os

# TensorFlow's C++ start-up lines (CUDA probing, oneDNN, CPU features, absl) read as errors to a
# newcomer; they are off unless the user asks for them (EDGELAT_VERBOSE=1, `edgelat -v`, or their
# own TF_CPP_MIN_LOG_LEVEL). Set here, before anything can import TensorFlow.
if not os.environ.get("EDGELAT_VERBOSE"):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from edgelat.core import quiet as _quiet  # noqa: E402
from edgelat.errors import EdgelatError  # noqa: E402

_quiet.install()

__version__ = "0.1.0"
__all__ = ["EdgelatError", "__version__"]
