"""The spec builder: one pass over the loaded YAML document, validating every section.

Each error names the field (dotted path) and its file:line:column from the document's
:class:`~optikit.spec.yamlsafe.SourceMap`.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import sympy

from .. import expr
from ..data import FILE_KINDS, DataError, DataRef, check_columns, data_ref, with_vectors
from ..errors import ExpressionError, did_you_mean
from .document import Spec
from ..errors import dotted
from .model import MODEL, TOP_KEYS, CheckSpec, Parameter
from .sections import SectionReader
from .fields import describe_value
from .yamlsafe import SourceMap

__all__ = ["build"]


def build(raw: Any, source: SourceMap, path: Path | None) -> Spec:
    """Validate a loaded document into a :class:`Spec`."""
    return _Builder(raw, source, path).build()


class _Builder(SectionReader):
    """One pass over the raw document; every ``err`` names the field and its location."""

    def expression(self, value: Any, path: tuple, symbols: Mapping[str, sympy.Symbol]) -> tuple[str, sympy.Expr]:
        text = self.text(value, path)
        try:
            return text, expr.parse(text, symbols)
        except ExpressionError as exc:
            where = self.source.within(path, text, exc.offset) if exc.offset is not None else self.source.value(path)
            raise exc.at(where, dotted(path)) from None

    # ---- sections ------------------------------------------------------------------------
    def build(self) -> Spec:
        raw = self.mapping(self.raw, (), "a YAML mapping (key: value lines) at the top level")
        self.known_keys(raw, (), TOP_KEYS)
        has_model, has_objective = "model" in raw, "objective" in raw
        if has_model == has_objective:
            raise self.err("a spec needs exactly one of 'model' (fit data) or 'objective' (minimize a function)",
                           ("objective",) if has_objective else ())
        params = self.parameters(raw)
        data = self.data_ref = self.data(raw) if "data" in raw else None
        columns = [*data.columns, *data.options.get("vectors", ())] if data is not None else self.inferred_columns(raw, params)
        self.columns = columns
        symbols: dict[str, sympy.Symbol] = {}
        target = raw.get("target", "y")
        for name in [p.name for p in params]:
            if name in (MODEL, "target"):
                raise self.err(f"{name!r} is reserved: in a loss it stands for the model's "
                               f"{'prediction' if name == MODEL else 'target column'}; rename the parameter",
                               ("parameters", name), key=True)
            symbols[name] = expr.make_symbol(name)
        for name in columns:
            if name == MODEL or (name == "target" and target != "target"):
                raise self.err(f"column name {name!r} is reserved: in a loss it stands for the model's "
                               f"{'prediction' if name == MODEL else 'target column'}; rename the column",
                               self.column_field(data, name), key=True)
            if name in symbols:
                raise self.err(f"{name!r} is both a parameter and a data column; rename one",
                               self.column_field(data, name), key=True)
            symbols[name] = sympy.Symbol(name, real=True)
        name = raw.get("name", self.path.stem if self.path else "spec")
        fields: dict[str, Any] = dict(name=self.text(name, ("name",)), description=str(raw.get("description", "")))
        if has_model:
            fields.update(self.model_and_loss(raw, symbols, columns))
        else:
            fields.update(self.objective(raw, symbols))
        used = (fields["loss_expr"] if fields["loss_expr"] is not None else fields["model_expr"]).free_symbols
        for p in params:
            if symbols[p.name] not in used:
                where = ("model",) if has_model else ("objective",)
                raise self.err(f"parameter {p.name!r} does not appear in the {where[0]}", ("parameters", p.name),
                               key=True, hint=f"remove it or use it in {where[0]}")
        if "gradient" in raw:
            fields["gradient_text"], fields["gradient"] = self.gradients(raw["gradient"], ("gradient",), params, symbols)
            missing = [p.name for p in params if p.name not in fields["gradient"]]
            if missing:
                raise self.err(f"a training gradient must be given for every parameter; missing {', '.join(missing)}",
                               ("gradient",))
        if "check" in raw:
            fields["check"] = self.check(raw["check"], params, symbols)
        return Spec(
            parameters=params,
            symbols=MappingProxyType(symbols),
            optimizer=self.optimizer(raw.get("optimizer")),
            data=data,
            columns=tuple(columns),
            path=self.path,
            source=self.source,
            **fields,
        )

    def data(self, raw: dict) -> DataRef:
        section = self.mapping(raw["data"], ("data",), "a mapping of column names to lists of numbers, or a file "
                               f"({', '.join(FILE_KINDS)}: path), or 'generate'")
        kinds = [k for k in (*FILE_KINDS, "generate") if k in section]
        try:
            if len(kinds) > 1:
                raise self.err(f"the data section names {' and '.join(kinds)}; give one source", ("data", kinds[1]),
                               key=True)
            vectors = section.get("vectors")
            section = {k: v for k, v in section.items() if k != "vectors"}
            if vectors is None:
                return self.source_ref(section, kinds)
            return with_vectors(self.source_ref(section, kinds), vectors, [raw.get("target", "y"), _sigma_column(raw)])
        except DataError as exc:
            raise self.err(exc.message, exc.path, hint=exc.hint) from None

    def source_ref(self, section: dict, kinds: list[str]) -> DataRef:
        """The data section, ``vectors`` aside: a file, ``generate``, or inline columns."""
        try:
            if kinds:
                allowed = (kinds[0], "split", "validation") + (("columns", *FILE_KINDS[kinds[0]]) if kinds[0] in FILE_KINDS else ())
                self.known_keys(section, ("data",), allowed)
                return data_ref(kinds[0], section, self.path.parent if self.path is not None else None)
            values: dict[str, tuple[float, ...]] = {}
            split = section.get("split") if isinstance(section.get("split"), dict) else None
            for name, column in section.items():
                if name == "split" and split is not None:
                    continue
                path = ("data", name)
                self.symbol_name(name, path, "data column")
                if not isinstance(column, list):
                    raise self.err(f"expected a list of numbers, got {describe_value(column)}", path)
                values[name] = tuple(self.number(v, path + (i,)) for i, v in enumerate(column))
            check_columns(values)
            ref = DataRef("inline", tuple(values), options=MappingProxyType({"values": MappingProxyType(values)}))
            return data_ref("inline", {"split": split}, None, ref) if split is not None else ref
        except DataError as exc:
            raise self.err(exc.message, exc.path, hint=exc.hint) from None

    def inferred_columns(self, raw: dict, params: tuple[Parameter, ...]) -> list[str]:
        """Without a ``data`` section the data comes at run time: every name of the model (or of the
        loss, or of a hand-written gradient) that is not a parameter is a column, the target too."""
        if "model" not in raw:
            return []
        taken = {p.name for p in params} | {MODEL}
        texts = [raw["model"]] if isinstance(raw["model"], str) else []
        loss = raw.get("loss")
        if isinstance(loss, str) and not loss.strip().isidentifier():  # a bare name is a named loss
            texts.append(loss)
        check = raw.get("check")
        for section in (raw.get("gradient"), check.get("gradient") if isinstance(check, dict) else None):
            if isinstance(section, dict):
                texts.extend(t for t in section.values() if isinstance(t, str))
        found = [n for text in texts for n in expr.names(text)]
        target = raw.get("target", "y")
        names = [n for n in dict.fromkeys([*found, target, _sigma_column(raw)]) if isinstance(n, str) and n not in taken]
        for name in names:
            self.symbol_name(name, ("model",), "data column")
        return names

    @staticmethod
    def column_field(data: DataRef | None, name: str) -> tuple:
        if data is None:
            return ("model",)
        if name in data.options.get("vectors", ()):
            return ("data", "vectors", name)
        return ("data", name) if data.kind == "inline" else data.field

    def model_and_loss(self, raw: dict, symbols: dict, columns: dict) -> dict[str, Any]:
        target = self.text(raw.get("target", "y"), ("target",))
        if target not in columns:
            raise self.err(f"target column {target!r} is not in the data (columns: {', '.join(columns)})",
                           ("target",) if "target" in raw else ("data",), hint=did_you_mean(target, columns))
        inputs = {k: v for k, v in symbols.items() if k != target}
        try:
            model_text, model_expr = self.expression(raw["model"], ("model",), inputs)
        except ExpressionError:
            self.target_in_model(raw["model"], target, symbols, chosen="target" in raw)
            raise
        loss = self.text(raw.get("loss", "mse"), ("loss",)).strip()
        if loss.isidentifier() and loss not in symbols and loss != MODEL:
            loss_expr = None  # a named loss (mse, mae, a plugin's): resolved when the spec is compiled
        else:
            model_sym = sympy.Symbol(MODEL, real=True)
            _, template = self.expression(loss, ("loss",), {**symbols, MODEL: model_sym})
            if model_sym not in template.free_symbols:
                raise self.err("the loss expression must use 'model' (the model's prediction)", ("loss",))
            loss_expr = template.subs(model_sym, model_expr)
        predict = self.predict(raw["predict"], model_expr, symbols, target) if "predict" in raw else {}
        sigma, absolute = self.sigma(raw["sigma"], columns, target, model_expr) if "sigma" in raw else (None, False)
        return dict(model=model_text, model_expr=model_expr, target=target, loss=loss,
                    loss_expr=loss_expr, predict=MappingProxyType(predict), sigma=sigma, absolute_sigma=absolute)

    def sigma(self, value: Any, columns: Any, target: str, model_expr: sympy.Expr) -> tuple[str, bool]:
        """``sigma: COLUMN`` or ``sigma: {column: COLUMN, absolute: true}``: per-row standard deviations."""
        path = ("sigma",)
        absolute = False
        if isinstance(value, dict):
            self.known_keys(value, path, ("column", "absolute"))
            if "column" not in value:
                raise self.err("missing 'column' (the data column of standard deviations)", path, key=True)
            if "absolute" in value:
                absolute = value["absolute"]
                if not isinstance(absolute, bool):
                    raise self.err(f"expected true or false, got {describe_value(absolute)}", path + ("absolute",))
            value, path = value["column"], path + ("column",)
        name = self.text(value, path)
        if name not in columns:
            raise self.err(f"sigma column {name!r} is not in the data (columns: {', '.join(columns)})", path,
                           hint=did_you_mean(name, columns))
        if name == target or name in {s.name for s in model_expr.free_symbols}:
            raise self.err(f"sigma column {name!r} is the target or a model input; name a column of "
                           "standard deviations", path)
        return name, absolute

    def target_in_model(self, text: Any, target: str, symbols: dict, chosen: bool) -> None:
        """Refuse a model that reads the target column, at its first use: "unknown symbol" would
        send the reader looking for a missing declaration instead."""
        try:
            uses = symbols[target] in expr.parse(text, symbols).free_symbols
        except ExpressionError:
            return  # something else is wrong with the model too: that error stands
        found = re.search(rf"(?<![\w.]){re.escape(target)}(?!\w)", text) if uses else None
        if found:
            where = self.source.within(("model",), text, found.start())
            raise ExpressionError(f"the model may not use the target column {target!r}: it is what the model "
                                  "is fitted to", piece=target, offset=found.start(), field="model", location=where,
                                  hint=f"'target:' names the column to fit ({target!r} here"
                                  + ("" if chosen else ", the default") + "); set it to fit another column, "
                                  "and the model's inputs are the other columns")

    def objective(self, raw: dict, symbols: dict) -> dict[str, Any]:
        for key in ("loss", "target", "predict", "sigma"):
            if key in raw:
                raise self.err(f"'{key}' goes with 'model', not with 'objective'", (key,), key=True)
        text, tree = self.expression(raw["objective"], ("objective",), symbols)
        return dict(objective=text, loss_expr=tree, loss="objective")

    def predict(self, value: Any, model_expr: sympy.Expr, symbols: dict, target: str) -> dict[str, tuple]:
        section = self.mapping(value, ("predict",), "a mapping of input columns to values")
        inputs = sorted(s.name for s in model_expr.free_symbols if s.name in self.columns)
        out: dict[str, tuple] = {}
        vectors = tuple(self.data_ref.options.get("vectors", ())) if self.data_ref is not None else ()
        for name, v in section.items():
            path = ("predict", name)
            if name in vectors:
                raise self.err(f"{name!r} is a vector input; 'predict:' takes one number per input",
                               path, key=True, hint="predict with 'optikit predict SPEC --data FILE' or "
                               "result.predict({...}) with a 2-D array")
            if name not in inputs:
                raise self.err(f"{name!r} is not an input of the model (inputs: {', '.join(inputs) or 'none'})",
                               path, key=True, hint=did_you_mean(name, inputs))
            values = v if isinstance(v, list) else [v]
            if not values:
                raise self.err("expected a number or a non-empty list of numbers", path)
            for i, item in enumerate(values):
                self.number(item, path + (i,) if isinstance(v, list) else path)
            out[name] = tuple(values)
        missing = [c for c in inputs if c not in out]
        if missing:
            raise self.err(f"missing input {', '.join(missing)} for the prediction", ("predict",))
        if len({len(v) for v in out.values()} - {1}) > 1:
            raise self.err("predict columns have different lengths", ("predict",))
        return out

    def gradients(self, value: Any, path: tuple, params: tuple[Parameter, ...], symbols: dict):
        section = self.mapping(value, path, "a mapping of parameter names to gradient expressions")
        names = [p.name for p in params]
        texts, trees = {}, {}
        for name, text in section.items():
            if name not in names:
                raise self.err(f"{name!r} is not a parameter (parameters: {', '.join(names)})", path + (name,),
                               key=True, hint=did_you_mean(name, names))
            texts[name], trees[name] = self.expression(text, path + (name,), symbols)
        return MappingProxyType(texts), MappingProxyType(trees)

    def check(self, value: Any, params: tuple[Parameter, ...], symbols: dict) -> CheckSpec:
        section = self.mapping(value, ("check",))
        self.known_keys(section, ("check",), ("gradient", "at"))
        texts, trees = (self.gradients(section["gradient"], ("check", "gradient"), params, symbols)
                        if "gradient" in section else ({}, {}))
        return CheckSpec(gradient=trees, gradient_text=texts, at=self.check_points(section.get("at", []), params))


def _sigma_column(raw: dict) -> Any:
    sigma = raw.get("sigma")
    return sigma.get("column") if isinstance(sigma, dict) else sigma
