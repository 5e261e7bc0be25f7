"""Architecture search on top of the predictors: the problem, strategies (one module each),
accuracy signals, the supernet, training, export, and the `run_search` workflow.

Calling the package, `edgelat.search(...)`, is the API's `edgelat.api.search`."""

from edgelat.core.verb_module import make_callable

make_callable(__name__, "edgelat.api:search")
