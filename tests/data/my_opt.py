"""A single-file optimizer plugin: ``optikit -p tests/data/my_opt.py run SPEC --optimizer signgd``."""

import numpy as np

import optikit


class SignGD(optikit.Optimizer):
    """Step against the sign of the gradient.

    Parameters
    ----------
    lr : float
        Step length.
    """

    name = "signgd"

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def init(self, params):
        return optikit.EmptyState()

    def update(self, grad, state, params, oracle=None):
        return -self.lr * np.sign(grad), state


@optikit.hookimpl
def optikit_register_optimizers(register):
    register(SignGD)
