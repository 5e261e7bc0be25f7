"""Profile 1,000 distinct blocks through the real `edgelat profile` command and report peak RSS.

The command runs under GNU time (`/usr/bin/time -v`), whose "Maximum resident set size" is
the largest single process of the tree (the campaign or a converter worker). The script also
samples the whole process tree's summed RSS from /proc. Target: peak RSS under 2 GB.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _field_kb(path: Path, field: str) -> int:
    try:
        m = re.search(rf"^{field}:\s+(\d+) kB", path.read_text(), re.M)
    except OSError:
        return 0
    return int(m.group(1)) if m else 0


def tree_memory_mb(root_pid: int) -> tuple[float, float]:
    """(summed RSS, summed PSS) of root_pid and its descendants, from /proc.

    RSS counts the TensorFlow libraries once per converter worker; PSS shares such pages
    between the processes that map them, so it is the tree's real footprint.
    """
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        m = re.search(r"PPid:\s+(\d+)", status.read_text()) if status.exists() else None
        if m:
            children.setdefault(int(m.group(1)), []).append(int(status.parent.name))
    rss = pss = 0
    stack = [root_pid]
    while stack:
        pid = stack.pop()
        rss += _field_kb(Path(f"/proc/{pid}/status"), "VmRSS")
        pss += _field_kb(Path(f"/proc/{pid}/smaps_rollup"), "Pss")
        stack.extend(children.get(pid, []))
    return rss / 1024, pss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    if not shutil.which("/usr/bin/time"):
        sys.exit("needs GNU time at /usr/bin/time (Debian package 'time')")
    work = Path(tempfile.mkdtemp(prefix="edgelat-mem-"))
    edgelat = Path(sys.executable).with_name("edgelat")
    cmd = ["/usr/bin/time", "-v", str(edgelat), "profile", "--sample", "random", "--n", str(args.n), "--seed", "7",
           "--runs", str(args.runs), "--warmup", "3", "--store", str(work / "mem.sqlite"),
           "--cache-dir", str(work / "cache"), "--json", "--top", "0"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_tree = [0.0, 0.0]

    def sample() -> None:
        while proc.poll() is None:
            try:
                rss, pss = tree_memory_mb(proc.pid)
            except (OSError, AttributeError):  # a process ended while being read
                continue
            peak_tree[0], peak_tree[1] = max(peak_tree[0], rss), max(peak_tree[1], pss)
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    sampler.join()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"profile failed ({proc.returncode}):\n{err[-2000:]}")
    max_rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
    print(f"campaign                  : {out.strip()}")
    print(f"blocks                    : {args.n} in {wall:.0f} s ({args.n / wall * 60:.0f} blocks/min)")
    print(f"peak RSS, largest process : {max_rss_kb / 1024:.0f} MB (GNU time; target < 2048 MB)")
    print(f"peak of the whole tree    : RSS summed {peak_tree[0]:.0f} MB, PSS summed {peak_tree[1]:.0f} MB "
          "(campaign + 2 converter workers + timing worker; RSS counts shared TF pages twice)")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
