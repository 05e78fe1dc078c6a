"""The batch-level cost model: seconds per training batch, fitted from training profiles.

Two kinds, both saved as plain JSON (no pickle), `harness fit`'s output:
- `linear` (interpretable): per (device, model) a fixed overhead plus a power law in batch size,
  spatial elements, channels and CPU cap, ridge-shrunk towards a pooled per-device fit;
- `gbt` (gradient-boosted): the linear law plus boosted trees on its log residuals, which keeps
  the law's extrapolation and learns the curvature the law cannot bend to.
Hold-out error: k-fold over measured points, relative, median and p90 per device.

Modules, one job each (only `linear`, `boosted` and `fit` import numpy; sklearn only to fit):

    file.py      the cost-model JSON: its schema (CostModelFile), validate_file, reading it
    features.py  samples from train profiles (one per ok probe) and a point's features
    linear.py    the overhead + power law, fitted per (device, model)
    boosted.py   boosted log residuals, exported as plain tree arrays and walked in numpy
    fit.py       CostModel: fit, predict, step_time, hold-out error, save and load
"""

from solver.hybrid.costmodel.file import CostModelError, CostModelFile, validate_file

__all__ = ["CostModelError", "CostModelFile", "validate_file"]
