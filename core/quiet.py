"""TensorFlow's C++ chatter, filtered: CUDA probing, oneDNN and CPU-feature notes, converter
info lines. TensorFlow >= 2.19 writes them through absl before absl is initialised, which
ignores TF_CPP_MIN_LOG_LEVEL, so they are filtered at the file-descriptor level instead: while
TensorFlow is imported (a meta-path hook) and while a model converts. Errors and anything
unrecognised still reach stderr. EDGELAT_VERBOSE=1 (or `edgelat -v`) turns the filter off."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Iterator

NOISE = re.compile(
    r"^(?:[IW]\d{4} [\d:. ]+\d+ \S+:\d+\]"  # absl INFO / WARNING lines
    r"|WARNING: All log messages before absl::InitializeLog\(\)"
    r"|To enable the following instructions:"
    r"|fully_quantize: \d+, inference_type: \d+"  # the int8 converter's settings line
    r"|\S*\s*E\S* .*(?:failed call to cuInit|Unable to register cu\w+ factory)"  # no GPU here: expected
    r"|[\d-]+ [\d:.]+: [IW] \S+:\d+\])")


def verbose() -> bool:
    return bool(os.environ.get("EDGELAT_VERBOSE"))


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """Capture fd 2 for the duration; afterwards re-emit every line that is not known noise."""
    if verbose():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            kept = [ln for ln in tmp.read().decode(errors="replace").splitlines() if ln and not NOISE.search(ln)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        with filtered_stderr():
            self.loader.exec_module(module)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Wraps the first import of `tensorflow` in `filtered_stderr`, then steps aside."""

    def __init__(self) -> None:
        self.busy = False

    def find_spec(self, name, path, target=None):
        if name != "tensorflow" or self.busy:
            return None
        self.busy = True
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self.busy = False
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(self)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_tensorflow() -> None:
    """What the CLI does first: TensorFlow's C++ log level 3 (unless the user set one, or asked for
    EDGELAT_VERBOSE=1) and the import filter. `import edgelat` does neither, so a notebook's process
    keeps its environment and file descriptors; call this to get the CLI's quiet there too."""
    if not verbose():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    install()


def install() -> None:
    """Filter TensorFlow's import-time chatter in this process (idempotent; a no-op when verbose)."""
    if verbose() or "tensorflow" in sys.modules or any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietTensorFlowImport())
