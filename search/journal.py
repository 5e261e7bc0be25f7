"""A search's evaluations on disk (`<out>/evaluations.jsonl`): each network's signal score is
appended as it arrives, so the same command run again after an interruption continues the search.

Strategies are seeded, so a re-run retraces the same path: the networks found in the journal are
scored from it (and count as evaluations, so the budget is spent exactly as before) until the run
passes the point where it stopped. The first line names the search by what decides the scores
(space, data, signal, seed, epochs); a journal of another search is refused, not overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from edgelat.errors import SearchError

JOURNAL_NAME = "evaluations.jsonl"
_DECIDING = ("space", "width", "train_resolution", "train_images", "accuracy", "accuracy_table", "data", "seed",
             "supernet_epochs", "train_epochs")


def fingerprint(options: dict[str, Any], num_classes: int) -> str:
    """What decides a network's score, hashed: the same value means the scores can be reused."""
    deciding = {k: options.get(k) for k in _DECIDING} | {"num_classes": num_classes}
    return hashlib.sha256(json.dumps(deciding, sort_keys=True, default=str).encode()).hexdigest()[:16]


class ScoreJournal:
    """Scores by canonical architecture (int8 bytes), loaded from and appended to one JSONL file."""

    def __init__(self, path: Path, search_id: str):
        self.path, self.search_id = Path(path), search_id
        self.scores: dict[bytes, float] = {}
        if self.path.is_file() and self.path.stat().st_size:
            self._load()
        else:
            self._append([{"search": search_id}])

    def _load(self) -> None:
        lines = self.path.read_text().splitlines()
        try:
            header = json.loads(lines[0])["search"]
        except (ValueError, KeyError, TypeError):
            raise SearchError(f"{self.path}: not a search journal (first line); delete it or choose another --out") \
                from None
        if header != self.search_id:
            raise SearchError(f"{self.path}: holds the evaluations of another search (space, data, signal, seed "
                              "or epochs differ); choose another --out or delete it")
        for n, line in enumerate(lines[1:], start=2):
            try:
                row = json.loads(line)
                self.scores[np.array(row["arch"], np.int8).tobytes()] = float(row["score"])
            except (ValueError, KeyError, TypeError):
                if n == len(lines):  # the last line of a killed run may be cut short: drop it
                    self.path.write_text("".join(ln + "\n" for ln in lines[:-1]))
                    break
                raise SearchError(f"{self.path}: line {n} is not an evaluation") from None

    def record(self, keys: list[bytes], values: np.ndarray) -> None:
        """Append new scores (one line each), flushed and synced before the search goes on."""
        rows = [{"arch": np.frombuffer(k, np.int8).tolist(), "score": float(v)}
                for k, v in zip(keys, values, strict=True)]
        self.scores.update(zip(keys, map(float, values), strict=True))
        self._append(rows)

    def _append(self, rows: list[dict[str, Any]]) -> None:
        with self.path.open("a") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)
            fh.flush()
            os.fsync(fh.fileno())
