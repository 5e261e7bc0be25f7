"""MCU cost model figures: cycle-model error on the published calibration points (in-sample and
leave-one-out), and how many candidate networks per second the analytic estimate scores."""

from __future__ import annotations

import time

import numpy as np

from edgelat.core.spaces import get_space
from edgelat.devices.catalog import get_device
from edgelat.devices.mcu import cycle_model
from edgelat.predictors.mcu import estimate_network, space_network


def main() -> None:
    points = cycle_model.load_calibration()
    fit = dict(cycle_model.calibration_errors(points))
    loo = dict(cycle_model.leave_one_out_errors(points))
    print(f"{'network':<18} {'board':<14} {'published ms':>12} {'estimate ms':>12} {'error':>7} {'LOO error':>9}")
    for p in points:
        est = cycle_model.estimate(p.ops, p.core, p.clock_mhz).latency_ms
        print(f"{p.name:<18} {p.board:<14} {p.latency_ms:>12.1f} {est:>12.1f} {fit[p.name]:>+7.1%} "
              f"{loo[p.name]:>+9.1%}")
    for label, errs in (("in-sample", fit), ("leave-one-out", loo)):
        s = cycle_model.summary(list(errs.items()))
        print(f"{label}: max |error| {s['max_abs']:.1%}, mean {s['mean_abs']:.1%}, rms {s['rms']:.1%} (n={s['n']})")

    dev = get_device("stm32f746")
    for res, width in ((96, 0.35), (160, 0.5)):
        space = get_space("single-path", res, width)
        archs = space.random(2000, seed=0)
        t0 = time.perf_counter()
        ests = [estimate_network(space_network(space, a), dev) for a in archs]
        dt = time.perf_counter() - t0
        sram = np.array([e.peak_sram_bytes for e in ests]) / 1024
        flash = np.array([e.flash_bytes for e in ests]) / 1024
        fit_s, fit_f = np.mean([e.fits_sram for e in ests]), np.mean([e.fits_flash for e in ests])
        print(f"single-path {res}px w{width} (1000 classes): {len(archs) / dt:,.0f} networks/s; peak SRAM "
              f"{sram.min():.0f}-{sram.max():.0f} KB ({fit_s:.0%} fit {dev.name}), flash {flash.min():.0f}-"
              f"{flash.max():.0f} KB ({fit_f:.0%} fit)")


if __name__ == "__main__":
    main()
