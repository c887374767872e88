"""The derivation cache: a second run reads its gradient from disk, bit for bit what SymPy derives,
and a damaged or hostile file is ignored and rewritten, never run."""

from __future__ import annotations

import json

import pytest
import sympy

import optikit
from optikit.expr.special import sigmoid, softplus
from optikit.symbolic import bounded, treecodec
from optikit.symbolic.cache import _checksum
from optikit.symbolic.treecodec import CodecError

from .conftest import SPECS


def _run(spec: str = "logistic.yaml", **kw):
    r = optikit.run(SPECS / spec, epochs=30, **kw)
    return r.parameters, [(h.loss, h.parameters) for h in r.history]


def _files(root):
    return sorted((root / "symbolic").glob("derive_*.json"))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTIKIT_CACHE_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def derivations(monkeypatch):
    """The number of times SymPy is asked for a gradient."""
    calls = []
    original = bounded.derive

    def counted(*args):
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(bounded, "derive", counted)
    return calls


@pytest.mark.parametrize("spec", ["logistic.yaml", "exp_decay.yaml", "seed_sgd.yaml"])
def test_a_cached_run_equals_a_derived_one_bit_for_bit(spec, cache, derivations, monkeypatch):
    monkeypatch.setenv("OPTIKIT_CACHE_DIR", "off")
    uncached = _run(spec)
    monkeypatch.setenv("OPTIKIT_CACHE_DIR", str(cache))
    assert _run(spec) == uncached and len(_files(cache)) == 1
    calls = len(derivations)
    assert _run(spec) == uncached
    assert len(derivations) == calls  # the second run read the file


def test_the_worker_path_is_cached_too(cache, derivations, monkeypatch):
    monkeypatch.setattr(bounded, "NODE_THRESHOLD", 0)  # every tree goes to the bounded worker process
    monkeypatch.setattr(bounded, "WORK_LIMIT", -1)
    first = _run("exp_decay.yaml")
    assert _run("exp_decay.yaml") == first and len(derivations) == 1


def test_a_changed_spec_misses_the_cache(cache, derivations, write_spec):
    text = "model: a*x + b\nparameters: {a: 1.0, b: 0.0}\ndata: {x: [1.0, 2.0], y: [2.0, 3.0]}\nloss: mse\noptimizer: {name: gd, lr: 0.01}\n"
    optikit.run(write_spec(text), epochs=2)
    optikit.run(write_spec(text.replace("a*x", "a*x**2")), epochs=2)
    assert len(derivations) == 2 and len(_files(cache)) == 2


def test_the_cache_can_be_turned_off(tmp_path, derivations, monkeypatch):
    monkeypatch.setenv("OPTIKIT_CACHE_DIR", "off")
    _run()
    _run()
    assert len(derivations) == 2 and not list(tmp_path.rglob("*.json"))


def _rewrite(path, change):
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("damage", ["code", "class", "checksum", "truncated", "count"])
def test_a_damaged_or_hostile_file_is_never_trusted_and_is_rewritten(damage, cache, derivations, tmp_path):
    expected = _run()
    (path,) = _files(cache)
    good = path.read_bytes()
    marker = tmp_path / "ran"
    if damage == "code":  # text an eval or an unpickler would run
        path.write_text(f"__import__('pathlib').Path({str(marker)!r}).touch()")
    elif damage == "class":  # a node naming something outside the allowlist, checksum recomputed
        def hostile(doc):
            doc["nodes"][-1][0] = "os.system"
            doc.pop("checksum")
            doc["checksum"] = _checksum(doc)
        _rewrite(path, hostile)
    elif damage == "checksum":  # a gradient edited in place: a sign flipped
        _rewrite(path, lambda doc: doc["nodes"].append(["Rational", -1, 1]))
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    else:
        _rewrite(path, lambda doc: doc.update(grads=1))
    calls = len(derivations)
    assert _run() == expected
    assert len(derivations) == calls + 1 and not marker.exists()
    assert path.read_bytes() == good  # recomputed and written again


def test_trees_round_trip_through_the_node_table_exactly():
    x, w, b, y = (sympy.Symbol(n, real=True) for n in "xwby")
    plain = sympy.Symbol("q")
    loss = ((sigmoid(w * x + b) - y) ** 2 + softplus(w) + sympy.Max(0, w - x) * sympy.Float("0.1", 30)
            + sympy.Piecewise((w, (x > 0) & sympy.Ne(y, 1)), (b, True)) + sympy.pi * sympy.exp(w) / 3
            + sympy.Abs(w - x) + sympy.log(b ** 2 + 1) + sympy.sin(w) * sympy.E + sympy.Rational(2, 7) * plain)
    trees = [loss, *(sympy.diff(loss, p) for p in (w, b))]
    nodes, roots = treecodec.encode(trees)
    back = treecodec.decode(json.loads(json.dumps(nodes)), roots)
    assert back == trees and [sympy.srepr(t) for t in back] == [sympy.srepr(t) for t in trees]
    assert treecodec.encode(back) == (nodes, roots)
    assert len(nodes) < sum(sum(1 for _ in sympy.preorder_traversal(t)) for t in trees)  # shared subtrees once


@pytest.mark.parametrize("nodes, roots", [
    ([["Symbol", "x", {}], ["eval", [0]]], [1]),
    ([["Symbol", "x", {}], ["Add", [0, 1]]], [1]),           # refers to itself
    ([["Symbol", "x", {"__class__": True}]], [0]),            # not an assumption
    ([["Float", 0, 1, 0, 1, "53"]], [0]),
    ([["Rational", 1, 0]], [0]),
    ([["Constant", "__builtins__"]], [0]),
    ({"nodes": []}, [0]),
    ([], [0]),
])
def test_decode_refuses_anything_but_a_valid_table(nodes, roots):
    with pytest.raises(CodecError):
        treecodec.decode(nodes, roots)


def test_a_tree_with_no_stored_form_is_refused_when_encoding():
    with pytest.raises(CodecError, match="Dummy"):
        treecodec.encode([sympy.Dummy("d") + 1])
