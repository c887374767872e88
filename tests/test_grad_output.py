"""``optikit grad --latex / --code / --hessian``: the derivation as LaTeX and as the code that runs."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from optikit.cli import main

from .conftest import SPECS


def test_latex_of_the_blog_gradient(capsys):
    assert main(["grad", str(SPECS / "seed_gd.yaml"), "--latex"]) == 0
    lines = capsys.readouterr().out.splitlines()
    w, x, y = sympy.symbols("w x y")
    # written by hand: the loss (w x - y)^2 and its derivative 2 x (w x - y), printed by SymPy's LaTeX printer
    assert lines[1] == r"\ell = " + sympy.latex((w * x - y) ** 2)
    assert lines[2] == r"\frac{\partial \ell}{\partial w} = " + sympy.latex(2 * x * (w * x - y))
    assert len(lines) == 3


def test_latex_hessian_lines(capsys):
    assert main(["grad", str(SPECS / "exp_decay.yaml"), "--latex", "--hessian"]) == 0
    out = capsys.readouterr().out
    assert out.count(r"\partial^2") == 9 and r"\frac{\partial^2 \ell}{\partial c^2} = 2" in out


def _run_code(source: str):
    namespace: dict = {}
    exec("from numpy import *\n" + source, namespace)  # the test runs the printed code; specs never are
    return namespace["_lambdifygenerated"]


def test_code_is_what_runs_and_agrees_with_finite_differences(capsys):
    assert main(["grad", str(SPECS / "exp_decay.yaml"), "--code", "--hessian"]) == 0
    source = capsys.readouterr().out
    assert "# arguments: a, b, c, x, y" in source
    fn = _run_code(source)
    p = np.array([1.3, 0.7, -0.2])
    x, y = 0.8, 1.1

    def loss(q):
        return (q[0] * np.exp(-q[1] * x) + q[2] - y) ** 2  # written here, independently of optikit

    values = [float(v) for v in fn(*p, x, y)]
    assert values[0] == loss(p)
    h = 1e-6
    eye = np.eye(3)
    fd_grad = [(loss(p + h * e) - loss(p - h * e)) / (2 * h) for e in eye]
    np.testing.assert_allclose(values[1:4], fd_grad, rtol=1e-7)
    h = 1e-4  # a second difference needs a larger step than a first one
    fd_hess = [[(loss(p + h * a + h * b) - loss(p + h * a - h * b) - loss(p - h * a + h * b)
                 + loss(p - h * a - h * b)) / (4 * h * h) for b in eye] for a in eye]
    np.testing.assert_allclose(np.reshape(values[4:], (3, 3)), fd_hess, rtol=1e-4, atol=1e-6)


def test_latex_and_code_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as info:
        main(["grad", str(SPECS / "seed_gd.yaml"), "--latex", "--code"])
    assert info.value.code == 2
    assert "not allowed" in capsys.readouterr().err
