"""search.png: the search's progress and the accuracy-latency Pareto front against random search."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgelat.core.paths import ensure_parent


def pareto_front(points: list[tuple[float, float]]) -> np.ndarray:
    """Points not dominated by any other (lower latency and higher score), sorted by latency."""
    if not points:
        return np.zeros((0, 2))
    pts = np.array(sorted(points, key=lambda p: (p[0], -p[1])))
    front, best = [], -np.inf
    for lat, score in pts:
        if score > best:
            front.append((lat, score))
            best = score
    return np.array(front)


def plot_search(path: Path, method, random, target_ms: float, signal: str, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    sp = method is not None and method.history and "hard_ms" in method.history[0]
    score_ax = ax1.twinx() if sp else ax1  # single-path's curve is in ms: scores get their own axis
    if sp:
        ax1.plot([h["hard_ms"] for h in method.history], color="C0", label=f"{method.strategy}: decoded network")
        ax1.axhline(target_ms, color="C3", ls="--", lw=1, label=f"budget {target_ms:g} ms")
        ax1.set_xlabel("single-path training step / random evaluations")
        ax1.set_ylabel("predicted latency of the decoded network (ms)")
    for res, colour in ((random, "0.55"), (None if sp else method, "C0")):
        if res is None:
            continue
        ev = [h.get("evaluations", i + 1) for i, h in enumerate(res.history) if "best_reward" in h]
        best = [h["best_reward"] for h in res.history if "best_reward" in h]
        score_ax.plot(ev, best, color=colour, label=f"{res.strategy}: best {signal}", drawstyle="steps-post")
    score_ax.set_ylabel(f"best {signal} within budget")
    if not sp:
        ax1.set_xlabel("evaluations")
    ax1.set_title("progress")
    handles = ax1.get_legend_handles_labels()
    if sp:
        extra = score_ax.get_legend_handles_labels()
        handles = (handles[0] + extra[0], handles[1] + extra[1])
    ax1.legend(*handles, fontsize=8)
    for res, colour, marker in ((random, "0.6", "x"), (method, "C0", ".")):
        if res is None or not res.points:
            continue
        pts = np.array(res.points)
        pts = pts[np.isfinite(pts[:, 1])]
        ax2.scatter(pts[:, 0], pts[:, 1], s=10, c=colour, marker=marker, alpha=0.6, label=f"{res.strategy} evaluated")
        front = pareto_front([tuple(p) for p in pts])
        if len(front):
            ax2.plot(front[:, 0], front[:, 1], color=colour, lw=1.5, drawstyle="steps-post",
                     label=f"{res.strategy} Pareto front")
        ax2.scatter([res.latency_ms], [res.score], s=120, marker="*", c=colour, edgecolors="k", zorder=5,
                    label=f"{res.strategy} chosen")
    ax2.axvline(target_ms, color="C3", ls="--", lw=1, label=f"budget {target_ms:g} ms")
    ax2.set_xlabel("predicted latency (ms)")
    ax2.set_ylabel(signal)
    ax2.set_title("accuracy-latency")
    ax2.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    ensure_parent(path, "the plot")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
