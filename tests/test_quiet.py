"""TensorFlow's start-up and converter chatter is filtered; real errors and opting in still work."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # imports TensorFlow in subprocesses

SNIPPET = """
import os
import pytest

from edgelat.core.quiet import filtered_stderr
with filtered_stderr():
    os.write(2, b"I0000 00:00:1796177300.117885    7254 cudart_stub.cc:31] Could not find cuda drivers\\n")
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
    os.write(2, b"E0000 00:00:1796177300.1 7254 something.cc:1] a real failure\\n")
    os.write(2, b"edgelat: a line of our own\\n")
"""


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("EDGELAT_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**clean, **env},
                          timeout=300)


def test_noise_lines_are_dropped_and_errors_kept():
    res = _run(SNIPPET)
    assert res.returncode == 0, res.stderr
    assert res.stderr.splitlines() == ["E0000 00:00:1796177300.1 7254 something.cc:1] a real failure",
                                       "edgelat: a line of our own"]
    verbose = _run(SNIPPET, EDGELAT_VERBOSE="1")
    assert "cudart_stub.cc" in verbose.stderr and "InitializeLog" in verbose.stderr


def test_importing_tensorflow_after_quiet_tensorflow_is_quiet():
    """What the CLI does first; `import edgelat` alone leaves the process be (tests/test_api.py)."""
    res = _run("from edgelat.core.quiet import quiet_tensorflow; quiet_tensorflow(); import tensorflow as tf; "
               "tf.constant(1.0) + 1.0")
    assert res.returncode == 0, res.stderr
    assert not [ln for ln in res.stderr.splitlines() if "cuda" in ln.lower() or ln.startswith(("I0000", "W0000"))], \
        res.stderr
