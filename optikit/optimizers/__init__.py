"""Built-in optimizers; each registers through the public ``optikit_register_optimizers`` hook."""
