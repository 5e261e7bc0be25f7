"""Soak: a campaign of 1,000 host blocks SIGKILLed at random moments 20 times and resumed each time.

Prints rows lost (a block whose stored row vanished, or that is missing at the end), rows doubled (a block
with more than one 'ok' row: each is measured in one pass), SQLite's integrity check after every kill, and
the wall-time overhead of the killed campaign against an uninterrupted one from the same warm cache.
`--smoke` runs 60 blocks and 3 kills (a test runs it). Writes under runs/soak/, never into data/.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

WORK = Path("runs/soak")


def profile_cmd(store: Path, n: int, runs: int) -> list[str]:
    return [sys.executable, "-m", "edgelat.cli", "profile", "--sample", "random", "--n", str(n), "--seed", "7",
            "--dtype", "fp32", "--runs", str(runs), "--warmup", "2", "--min-time-ms", "0",
            "--store", str(store), "--cache-dir", str(WORK / "cache"), "--json"]


def ok_rows(store: Path) -> tuple[int, int, bool]:
    """(ok rows, distinct blocks among them, integrity check passed)."""
    if not store.exists():
        return 0, 0, True
    db = sqlite3.connect(store)
    try:
        n, k = db.execute("SELECT COUNT(*), COUNT(DISTINCT block_key) FROM measurements WHERE status='ok'").fetchone()
        return n, k, db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


def uninterrupted(store: Path, n: int, runs: int) -> float:
    t0 = time.perf_counter()
    subprocess.run(profile_cmd(store, n, runs), check=True, capture_output=True)
    return time.perf_counter() - t0


def rows_so_far(store: Path) -> int:
    """Ok rows committed so far, read beside the running campaign (WAL: readers never block it)."""
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute("SELECT COUNT(*) FROM measurements WHERE status='ok'").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:  # not created yet, or its schema not yet written
        return 0


def still_running_at(store: Path, proc: subprocess.Popen, target_rows: int, extra_s: float) -> bool:
    """Wait until the campaign has `target_rows` ok rows, then `extra_s` more (a random moment inside the
    next block's conversion, measurement or commit); False when it ended first."""
    while proc.poll() is None and rows_so_far(store) < target_rows:
        time.sleep(0.05)
    if proc.poll() is None:
        time.sleep(extra_s)
    return proc.poll() is None


def killed(store: Path, n: int, runs: int, kills: int, row_s: float, seed: int) -> dict[str, float]:
    """Run the campaign, SIGKILL it `kills` times at random moments, resume until it finishes. Each kill
    falls after a random share of the rows left, so that every kill happens however busy the machine is."""
    rng = random.Random(seed)
    stats = {"kills": 0, "lost": 0, "integrity_failures": 0, "wall_s": 0.0}
    seen = 0
    while True:
        t0 = time.perf_counter()
        proc = subprocess.Popen(profile_cmd(store, n, runs), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        left = kills - stats["kills"]
        step = max(1, (n - seen) // (left + 1))
        if left and still_running_at(store, proc, seen + rng.randint(0, step - 1), rng.uniform(0, 2 * row_s)):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:  # it finished in between
                pass
        proc.wait()
        stats["kills"] += proc.returncode == -signal.SIGKILL
        stats["wall_s"] += time.perf_counter() - t0
        rows, _, intact = ok_rows(store)
        stats["lost"] += max(0, seen - rows)  # a row seen before the kill that is gone after it
        stats["integrity_failures"] += not intact
        seen = max(seen, rows)
        print(f"  run {stats['kills']:2d}: {rows} ok rows, integrity {'ok' if intact else 'FAILED'}",
              file=sys.stderr)
        if proc.returncode == 0:
            return stats
        if proc.returncode not in (0, -signal.SIGKILL):
            raise SystemExit(f"the campaign failed with exit code {proc.returncode}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--smoke", action="store_true", help="60 blocks, 3 kills")
    args = ap.parse_args()
    if args.smoke:
        args.n, args.kills = 60, 3
    shutil.rmtree(WORK / "stores", ignore_errors=True)
    (WORK / "stores").mkdir(parents=True)
    print(f"warming the conversion cache with {args.n} blocks ...", file=sys.stderr)
    uninterrupted(WORK / "stores" / "warm.sqlite", args.n, args.runs)
    base_s = uninterrupted(WORK / "stores" / "whole.sqlite", args.n, args.runs)
    stats = killed(WORK / "stores" / "killed.sqlite", args.n, args.runs, args.kills, base_s / args.n, args.seed)
    rows, distinct, intact = ok_rows(WORK / "stores" / "killed.sqlite")
    lost = stats["lost"] + (args.n - distinct)
    print(f"blocks                  : {args.n} random fp32 host blocks, {args.runs} timed runs each, warm cache")
    print(f"SIGKILLs                : {stats['kills']} at random moments, each followed by a resume")
    print(f"rows lost               : {lost}")
    print(f"rows doubled            : {rows - distinct}")
    print(f"integrity check         : {'ok' if intact and not stats['integrity_failures'] else 'FAILED'} "
          f"(after every kill and at the end)")
    print(f"uninterrupted wall time : {base_s:7.1f} s")
    print(f"killed + resumed        : {stats['wall_s']:7.1f} s  (overhead x{stats['wall_s'] / base_s:.2f})")
    if lost or rows != distinct or not intact or stats["integrity_failures"]:
        raise SystemExit("soak FAILED: rows were lost or doubled, or the store is damaged")


if __name__ == "__main__":
    main()
