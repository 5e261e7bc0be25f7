"""The predictor kinds `fit --kind KIND` makes and predictor files name, one registry.

Entries are module paths, imported on first use, so listing the kinds (the CLI does) imports none
of them: xgboost and scikit-learn stay out of a process that never fits or loads a model.
"""

from __future__ import annotations

from edgelat.core.registry import Registry

PREDICTORS: Registry[type] = Registry("predictor kind")
PREDICTORS.register("lut", "edgelat.predictors.lut:LUTPredictor")
PREDICTORS.register("linear", "edgelat.predictors.linear:LinearPredictor")
PREDICTORS.register("gbdt", "edgelat.predictors.gbdt:GBDTPredictor")
PREDICTORS.register("transfer", "edgelat.predictors.transfer:TransferPredictor")
PREDICTORS.register("kernels", "edgelat.predictors.kernels:KernelPredictor")
# what `fit --space` makes of a whole-network table (asked for as lut or linear), so files hold it
PREDICTORS.register("layerwise", "edgelat.predictors.layerwise:LayerwisePredictor", hidden=True)
