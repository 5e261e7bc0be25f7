"""Architecture search (strategies and export) on top of the predictors.

The search spaces themselves are defined in `edgelat.core.spaces`, the lowest layer that
needs them (the profiler enumerates their blocks, predictors price their architectures).
"""
