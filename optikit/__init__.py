"""optikit: optimizers as plugins, models as YAML, gradients from SymPy."""
