"""The ``edgelat`` command: parses arguments and calls the layers; no logic of its own.

Any EdgelatError becomes a one-line ``edgelat: error: ...`` on stderr and exit code 2.
"""

from edgelat.cli import predict_commands, profile_commands, search_commands  # noqa: F401 - registers the commands
from edgelat.cli.app import cli, main

__all__ = ["cli", "main"]
