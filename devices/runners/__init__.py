"""Self-contained scripts that edgelat runs in a process of their own or pushes to a board, and their paths."""

from pathlib import Path

LITERT_TIMER_SCRIPT = Path(__file__).parent / "litert_timer.py"
AGREEMENT_SCRIPT = Path(__file__).parent / "agreement.py"
TFLM_RUNNER_SCRIPT = Path(__file__).parent / "tflm_runner.py"
