"""Training on a Dask cluster (the optional extra ``optikit[dask]``): the spec's rows held by the
workers as partitions, each step's sums computed there with the NumPy evaluator a local run
uses and added on the client, where the optimizer and the engine run as they do locally.

Importing this package does not import Dask; connecting does (:func:`connect`).
"""

from __future__ import annotations

from .cluster import FIELD, INSTALL, Session, connect, dask_distributed
from .compile import compile_on_cluster, prepare_on_cluster
from .evaluator import ClusterEvaluator, ClusterOracle, ClusterProblem

__all__ = ["Session", "connect", "dask_distributed", "compile_on_cluster", "prepare_on_cluster", "ClusterEvaluator", "ClusterOracle",
           "ClusterProblem", "FIELD", "INSTALL"]
