"""Interference detection: a measurement whose run-to-run spread is far above what this campaign
usually sees, or whose latency drifted between the first and last third of its runs, was most
likely disturbed by other work on the device. The campaign re-measures it later and keeps both.
One of the three guards of devices/guards.py: its "again" means later in the campaign, not at once."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgelat.devices.guards import KEEP, Decision, Guard, again
from edgelat.devices.measurement import Measurement


@dataclass
class InterferenceDetector(Guard):
    """Learns the usual coefficient of variation from the campaign's clean measurements (median +
    `cv_factor` robust deviations, at least `cv_floor` and 2x the median); until `min_history`
    measurements are in, `default_cv` is the limit. A |drift| above `drift_limit` is flagged too.
    Measurements of fewer than `min_runs` runs are never flagged: their spread says little."""

    cv_factor: float = 4.0
    cv_floor: float = 0.05
    default_cv: float = 0.5
    drift_limit: float = 0.10
    min_history: int = 8
    min_runs: int = 10
    cvs: list[float] = field(default_factory=list)
    name = "interference"

    def cv_limit(self) -> float:
        if len(self.cvs) < self.min_history:
            return self.default_cv
        cvs = np.asarray(self.cvs)
        med = float(np.median(cvs))
        mad = float(np.median(np.abs(cvs - med)))
        return max(self.cv_floor, 2.0 * med, med + self.cv_factor * 1.4826 * mad)

    def check(self, m: Measurement) -> str | None:
        """Why `m` looks disturbed (None if it does not); clean measurements teach the usual spread."""
        if not m.ok or m.runs < self.min_runs:
            return None
        cv, drift, limit = m.stats.get("cv"), m.stats.get("drift"), self.cv_limit()
        if cv is not None and np.isfinite(cv) and cv > limit:
            return f"cv {cv:.3f} > {limit:.3f} (this campaign's usual spread)"
        if drift is not None and abs(drift) > self.drift_limit:
            return f"drift {drift:+.1%} between the first and last third of the runs"
        if cv is not None and np.isfinite(cv):
            self.cvs.append(float(cv))
        return None

    def after(self, label: str, m: Measurement | None) -> Decision:
        """AGAIN (later) with the reason when `m` looks disturbed; a pass as a whole (None) is kept."""
        why = self.check(m) if m is not None else None
        return KEEP if why is None else again(why)
