"""Architecture search on top of the predictors: the problem, strategies (one module each),
accuracy signals, the supernet, training, export, and the `run_search` workflow."""
