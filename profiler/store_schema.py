"""The measurement store's SQLite schema: what every row of a block, kernel or network holds, and the
probes and fixed parts beside them (profiler/store.py reads and writes it)."""

from __future__ import annotations

from edgelat.devices.measurement import STAT_FIELDS

SCHEMA_VERSION = 5  # 3: the networks table; 4: the kernels table; 5: fixed parts record their measurement policy
# (older stores gain them, and probes, in place)

# Columns added in schema 2 (a version-1 store is upgraded in place by adding them).
V2_COLUMNS = {"peak_sram_bytes": "INTEGER", "flash_bytes": "INTEGER", "throttled": "INTEGER", "info": "TEXT"}

# The columns every measurement has, block or network: how it ran, its statistics, where and when.
RESULT_COLUMNS = f"""runtime TEXT NOT NULL, runtime_version TEXT NOT NULL, threads INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    {", ".join(f"{f} REAL" for f in STAT_FIELDS)},
    runs INTEGER, warmup INTEGER,
    error TEXT, raw_output TEXT,
    created_at TEXT NOT NULL,
    host TEXT NOT NULL,"""

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS measurements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    unit TEXT,
    block_key TEXT NOT NULL,
    input_hw INTEGER NOT NULL, cin INTEGER NOT NULL, cout INTEGER NOT NULL,
    expand INTEGER NOT NULL, kernel INTEGER NOT NULL, stride INTEGER NOT NULL,
    se INTEGER NOT NULL, act TEXT NOT NULL, dtype TEXT NOT NULL,
    {RESULT_COLUMNS}
    peak_sram_bytes INTEGER, flash_bytes INTEGER,
    throttled INTEGER,
    info TEXT,
    timing TEXT,
    CHECK (status != 'ok' OR (median_ms > 0 AND error IS NULL))
);
CREATE INDEX IF NOT EXISTS measurements_lookup ON measurements (device, threads, block_key, status);
CREATE TABLE IF NOT EXISTS networks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    unit TEXT,
    net_key TEXT NOT NULL,
    space TEXT NOT NULL, arch TEXT NOT NULL, resolution INTEGER NOT NULL, width REAL NOT NULL,
    num_classes INTEGER NOT NULL, dtype TEXT NOT NULL,
    {RESULT_COLUMNS}
    info TEXT,
    timing TEXT,
    CHECK (status != 'ok' OR (median_ms > 0 AND error IS NULL))
);
CREATE TABLE IF NOT EXISTS fixed_parts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL, threads INTEGER NOT NULL, context TEXT NOT NULL, dtype TEXT NOT NULL,
    name TEXT NOT NULL, median_ms REAL NOT NULL CHECK (median_ms > 0), timing TEXT, created_at TEXT NOT NULL,
    policy TEXT
);
CREATE INDEX IF NOT EXISTS networks_lookup ON networks (device, threads, net_key, status);
CREATE TABLE IF NOT EXISTS kernels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    unit TEXT,
    kernel_key TEXT NOT NULL,
    kind TEXT NOT NULL, dtype TEXT NOT NULL,
    {RESULT_COLUMNS}
    info TEXT,
    timing TEXT,
    CHECK (status != 'ok' OR (median_ms > 0 AND error IS NULL))
);
CREATE INDEX IF NOT EXISTS kernels_lookup ON kernels (device, threads, kernel_key, status);
CREATE TABLE IF NOT EXISTS probes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT NOT NULL, threads INTEGER NOT NULL, host TEXT NOT NULL,
    median_ms REAL NOT NULL CHECK (median_ms > 0), ratio REAL NOT NULL, label TEXT NOT NULL, created_at TEXT NOT NULL
);
"""
