"""The project's exceptions: every error edgelat raises on purpose derives from EdgelatError.

The CLI turns any EdgelatError into a one-line message and exit code 2.
"""

from __future__ import annotations


class EdgelatError(Exception):
    """Root of all edgelat errors (user-facing: the message is shown as is)."""


class DeviceFileError(EdgelatError):
    """A device file is malformed, or names an unknown device."""


class BlockSpecError(EdgelatError, ValueError):
    """A block specification or block key is invalid."""


class DataError(EdgelatError):
    """A data file (block table, store, ranges) cannot be read."""


class PredictorError(EdgelatError):
    """A predictor cannot answer (a missing LUT key, a schema mismatch, bad training data)."""


class StoreError(EdgelatError):
    """The measurement store cannot be opened or written."""


class ConversionError(EdgelatError):
    """TensorFlow could not build or convert a block."""


class RunnerError(EdgelatError):
    """A timing runner failed or printed output that cannot be parsed."""


class TransportError(EdgelatError):
    """A device cannot be reached over its transport."""


class MissingDependencyError(EdgelatError, ImportError):
    """An optional dependency is not installed; the message says how to get it."""


class DeviceAuthError(TransportError):
    """A device refused or never answered ADB authentication; the message says what to do."""


class DeviceError(EdgelatError):
    """A device (or a farm's units of one) cannot do what is asked: wrong kind, unsupported feature, none left."""


class DoesNotFitError(EdgelatError):
    """A model needs more SRAM or flash than a microcontroller has; the message gives both byte counts."""


class SearchError(EdgelatError):
    """A search cannot run as asked (space, strategy, signal or budget)."""


class OptionError(EdgelatError, ValueError):
    """A command-line option or workflow setting has a value that cannot be used."""


class OutputPathError(EdgelatError):
    """An output file or folder cannot be created or written; the message names it."""


class CommandTimeoutError(RunnerError):
    """A command on a device that still answers ran past its time budget (slow, not unreachable)."""


class DiskFullError(OutputPathError):
    """A store, cache or output file hit a full disk; the message names it and says how to resume."""
