"""The crash-safe measurement store: an append-only SQLite file in WAL mode.

One transaction per measurement, so killing the process (even with SIGKILL) loses at most
the measurement in flight. Rows are never updated or deleted; a block (table `measurements`),
a kernel (table `kernels`) or a whole network (table `networks`) counts as done for a (device,
threads) pair once it has an 'ok' row. Failed rows keep the raw runner output.
"""

from __future__ import annotations

import json
import platform
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from edgelat.core.blockspec import FIELD_NAMES, BlockSpec
from edgelat.core.kernelspec import KernelSpec
from edgelat.core.netspec import NetworkSpec
from edgelat.core.paths import ensure_parent
from edgelat.devices.measurement import STAT_FIELDS, Measurement
from edgelat.errors import DiskFullError, StoreError
from edgelat.profiler.store_schema import SCHEMA, SCHEMA_VERSION, V2_COLUMNS

DISTURBED = "disturbed by other work: "  # the error of a measurement kept but measured again
_NET_FIELDS = ("space", "arch", "resolution", "width", "num_classes", "dtype")
T = TypeVar("T")
BUSY_WAIT_S = 120.0  # how long a write waits out other campaigns' writes to the same store before failing
_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _locked(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in _BUSY_CODES or "locked" in str(exc)


def _disk_full(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)


def host_info() -> dict[str, Any]:
    """Where the campaign ran (the driver machine), stored with every row."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {"hostname": socket.gethostname(), "system": platform.system(), "release": platform.release(),
            "machine": platform.machine(), "cpu": cpu, "python": platform.python_version()}


class Store:
    """Open (creating if needed) a store file. Use as a context manager or call close()."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise StoreError(f"{self.path}: is a directory, not a store file")
        ensure_parent(self.path, "the store")
        try:
            self.db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._retry_busy("cannot open the store", self._prepare)
        except sqlite3.DatabaseError as exc:
            if _disk_full(exc):
                raise self._full() from None
            raise StoreError(f"{self.path}: not a usable edgelat store: {exc}") from None
        self.db.row_factory = sqlite3.Row
        self._host = json.dumps(host_info(), sort_keys=True)

    def _prepare(self) -> None:
        """WAL mode and the schema (created, or upgraded in place); safe when several campaigns open at once."""
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if int(row[0]) in (1, 2, 3, 4):
            self._upgrade(int(row[0]))
        elif int(row[0]) != SCHEMA_VERSION:
            raise StoreError(f"{self.path}: store schema version {row[0]}, this edgelat reads {SCHEMA_VERSION}")

    def _retry_busy(self, what: str, write: Callable[[], T]) -> T:
        """Run `write()`; while another process holds the store's write lock, wait with backoff (up to
        BUSY_WAIT_S) beyond SQLite's own busy timeout, so two campaigns can share one store."""
        delay, deadline = 0.05, time.monotonic() + BUSY_WAIT_S
        while True:
            try:
                return write()
            except sqlite3.OperationalError as exc:
                if not _locked(exc):
                    raise
                if time.monotonic() > deadline:
                    raise StoreError(f"{self.path}: {what}: still locked by another process after "
                                     f"{BUSY_WAIT_S:g} s; re-run the same command to resume") from None
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _full(self) -> DiskFullError:
        return DiskFullError(f"{self.path}: the disk holding the store is full; nothing measured so far is lost: "
                             f"free space and re-run the same command to resume")

    def _upgrade(self, version: int) -> None:
        """v1 -> v2: the MCU and hygiene columns; v2 -> v3: the timing column (which method timed a row;
        NULL in older rows, which were timed plainly) and the networks table; v3 -> v4: the kernels table
        (tables are created above); v4 -> v5: the fixed parts' policy column (NULL in older rows)."""
        have = {r[1] for r in self.db.execute("PRAGMA table_info(measurements)")}
        have_fixed = {r[1] for r in self.db.execute("PRAGMA table_info(fixed_parts)")}
        with self.db:
            for col, kind in {**V2_COLUMNS, "timing": "TEXT"}.items():
                if col not in have:
                    self.db.execute(f"ALTER TABLE measurements ADD COLUMN {col} {kind}")
            if "policy" not in have_fixed:
                self.db.execute("ALTER TABLE fixed_parts ADD COLUMN policy TEXT")
            self.db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, device: str, spec: BlockSpec | NetworkSpec | KernelSpec, m: Measurement, runtime: str,
            runtime_version: str, unit: str | None = None, disturbed: bool = False) -> None:
        """Append one measurement of a block or a network in its own transaction (durable when this
        returns). A `disturbed` one (interference) keeps its figures in a 'failed' row whose error
        starts with DISTURBED: it is not done, and is measured again."""
        stats = [m.stats.get(f) if m.ok else None for f in STAT_FIELDS]
        status = "ok" if m.ok and not disturbed else "failed"
        error = f"{DISTURBED}{m.info.get('interference', '')}" if m.ok and disturbed else m.error
        common = (runtime, runtime_version, m.threads, status, *stats, m.runs or None,
                  m.warmup if m.ok else None, error, m.raw_output or None,
                  datetime.now(UTC).isoformat(timespec="milliseconds"), self._host, m.info.get("timing"))
        info = json.dumps(m.info, sort_keys=True, default=str) if m.info else None
        common_cols = ("runtime", "runtime_version", "threads", "status", *STAT_FIELDS, "runs", "warmup", "error",
                       "raw_output", "created_at", "host", "timing")
        if isinstance(spec, NetworkSpec):
            table, cols = "networks", ("device", "unit", "net_key", *_NET_FIELDS, *common_cols, "info")
            row = (device, unit, spec.key, *(getattr(spec, f) for f in _NET_FIELDS), *common, info)
        elif isinstance(spec, KernelSpec):
            table, cols = "kernels", ("device", "unit", "kernel_key", "kind", "dtype", *common_cols, "info")
            row = (device, unit, spec.key, spec.kind, spec.dtype, *common, info)
        else:
            table = "measurements"
            cols = ("device", "unit", "block_key", *FIELD_NAMES, *common_cols, "peak_sram_bytes", "flash_bytes",
                    "throttled", "info")
            row = (device, unit, spec.key, *(getattr(spec, f) for f in FIELD_NAMES), *common,
                   m.info.get("peak_sram_bytes"), m.info.get("flash_bytes"),
                   None if m.info.get("throttled") is None else int(bool(m.info["throttled"])), info)
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        self._write(f"cannot write the measurement of {spec.key}", lambda: self.db.execute(sql, row))

    def _write(self, what: str, statement: Callable[[], Any]) -> None:
        """One write transaction, retried while other campaigns write; a full disk is a DiskFullError."""
        def once() -> None:
            with self.db:  # BEGIN ... COMMIT (ROLLBACK on error: nothing half-written)
                statement()
        try:
            self._retry_busy(what, once)
        except sqlite3.DatabaseError as exc:
            if _disk_full(exc):
                raise self._full() from None
            raise StoreError(f"{self.path}: {what}: {exc}") from None

    def done_keys(self, device: str, threads: int, timing: str | None = None) -> set[str]:
        """Block, kernel and network keys already measured successfully on (device, threads); with `timing`
        (plain, cold or context), only blocks timed by that method count (a block timed plainly is not
        done for a cold campaign)."""
        return set(self.done_counts(device, threads, timing))

    def done_counts(self, device: str, threads: int, timing: str | None = None) -> dict[str, int]:
        """As done_keys, with how many successful rows (passes) each key has."""
        if timing not in (None, "plain", "cold", "context"):
            raise StoreError(f"timing must be plain, cold or context, got {timing!r}")
        timing = ("" if timing is None else "AND (timing IS NULL OR timing = 'plain')" if timing == "plain"
                  else f"AND timing LIKE '{timing}%'")
        rows = self.db.execute(
            f"SELECT block_key, COUNT(*) FROM measurements WHERE device=? AND threads=? AND status='ok' {timing} "
            "GROUP BY block_key UNION ALL "
            "SELECT net_key, COUNT(*) FROM networks WHERE device=? AND threads=? AND status='ok' GROUP BY net_key "
            "UNION ALL SELECT kernel_key, COUNT(*) FROM kernels WHERE device=? AND threads=? AND status='ok' "
            "GROUP BY kernel_key",
            (device, threads, device, threads, device, threads),
        )
        return {key: int(count) for key, count in rows}

    def rows(self, device: str | None = None, status: str | None = "ok", latest: bool = True,
             networks: bool = False, estimate: str = "latest", kernels: bool = False) -> list[dict[str, Any]]:
        """Block rows (or with `networks` whole-network, with `kernels` kernel rows) as dicts; with `latest`,
        one per (device, threads, key): the newest, or with `estimate="min"` the fastest of the rows timed like the
        newest (several passes of a campaign: other work on the machine only ever adds time)."""
        if estimate not in ("latest", "min"):
            raise StoreError(f"estimate: must be 'latest' or 'min', got {estimate!r}")
        if estimate == "min" and not (latest and status == "ok"):
            raise StoreError("estimate='min' picks among the successful rows: it needs latest=True, status='ok'")
        if estimate == "min":  # disturbed rows count too: they were timed
            everything = self.rows(device, None, latest=False, networks=networks, kernels=kernels)
            return self._fastest([r for r in everything if r["status"] == "ok"
                                  or (r["error"] or "").startswith(DISTURBED)])
        table, key = (("networks", "net_key") if networks else ("kernels", "kernel_key") if kernels
                      else ("measurements", "block_key"))
        where, args = [], []
        if device is not None:
            where.append("device = ?")
            args.append(device)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT * FROM {table} {clause} ORDER BY id"
        if latest:
            sql = (f"SELECT * FROM {table} WHERE id IN (SELECT MAX(id) FROM {table} {clause} "
                   f"GROUP BY device, threads, {key}) ORDER BY id")
        return [dict(r) for r in self.db.execute(sql, args)]

    @staticmethod
    def _fastest(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Per (device, threads, key) with an ok row, the row with the smallest median among those
        with the newest ok row's timing (a disturbed first measurement can win over an unlucky
        re-measurement: other work only ever adds time)."""
        groups: dict[tuple, list[dict[str, Any]]] = {}
        for r in rows:  # in id order
            key = r.get("block_key") or r.get("net_key") or r.get("kernel_key")
            groups.setdefault((r["device"], r["threads"], key), []).append(r)
        out = []
        for grp in groups.values():
            ok = [r for r in grp if r["status"] == "ok"]
            if not ok:
                continue
            timing = ok[-1]["timing"] or "plain"
            same = [r for r in grp if (r["timing"] or "plain") == timing and r["median_ms"] is not None]
            best = min(same, key=lambda r: r["median_ms"]) if same else ok[-1]
            # A disturbed row is never returned as such: its median, on the newest ok row.
            out.append(best if best["status"] == "ok" else {**ok[-1], "median_ms": best["median_ms"]})
        return sorted(out, key=lambda r: r["id"])

    def add_fixed_parts(self, device: str, threads: int, context: str, dtype: str, parts: dict[str, float],
                        timing: str, policy: dict[str, Any] | None = None) -> None:
        """Record the measured fixed parts (stem, head, strided skips) of one space setting, at once, with the
        measurement policy they were measured under."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        how = json.dumps(policy, sort_keys=True) if policy is not None else None
        rows = [(device, threads, context, dtype, name, ms, timing, now, how) for name, ms in parts.items()]
        self._write("cannot write the fixed parts", lambda: self.db.executemany(
            "INSERT INTO fixed_parts (device, threads, context, dtype, name, median_ms, timing, created_at, policy) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows))

    def fixed_parts(self, device: str, dtype: str) -> tuple[str | None, dict[str, float]]:
        """The newest recorded fixed parts of `device` in `dtype`: (their space setting, {name: ms})."""
        row = self.db.execute("SELECT context, dtype, created_at FROM fixed_parts WHERE device=? AND dtype=? "
                              "ORDER BY id DESC LIMIT 1", (device, dtype)).fetchone()
        if row is None:
            return None, {}
        rows = self.db.execute("SELECT name, median_ms FROM fixed_parts WHERE device=? AND context=? AND dtype=? "
                               "AND created_at=?", tuple((device, *row)))
        return f"{row[0]} {row[1]}", {r[0]: float(r[1]) for r in rows}

    def add_probe(self, device: str, threads: int, median_ms: float, ratio: float, label: str) -> None:
        """Record one reading of the spell guard's probe (profiler/spell_guard.py)."""
        row = (device, threads, socket.gethostname(), median_ms, ratio, label, datetime.now(UTC).isoformat())
        self._write("cannot write a probe reading", lambda: self.db.execute(
            "INSERT INTO probes (device, threads, host, median_ms, ratio, label, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", row))

    def fastest_probe_ms(self, device: str, threads: int) -> float | None:
        """The fastest probe reading on record for (device, threads) from this host: the guard's yardstick."""
        return self.db.execute("SELECT MIN(median_ms) FROM probes WHERE device=? AND threads=? AND host=?",
                               (device, threads, socket.gethostname())).fetchone()[0]

    def count(self, status: str | None = None) -> int:
        if status is None:
            return self.db.execute("SELECT COUNT(*) FROM measurements").fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM measurements WHERE status=?", (status,)).fetchone()[0]

    def integrity_ok(self) -> bool:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def open_existing(path: str | Path) -> Store:
    """Open a store that must already exist (for export and reports)."""
    if not Path(path).is_file():
        raise StoreError(f"{path}: no such store file")
    return Store(path)


def specs_of(rows: Iterable[dict[str, Any]]) -> list[BlockSpec]:
    return [BlockSpec(**{f: r[f] for f in FIELD_NAMES}) for r in rows]
