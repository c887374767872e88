"""A csv or parquet data section may name a folder or a glob pattern: its files, in sorted order,
are one data set, read as the same rows in one array would be."""

from __future__ import annotations

import numpy as np
import pytest

import optikit
from optikit.errors import SpecError

SPEC = """name: parts
model: a*x + b
parameters: {{a: 0.0, b: 0.0}}
data:
  {data}
optimizer: {{name: gd, lr: 0.1, epochs: 20}}
"""


def _write_parts(folder, sizes, csv=False, seed=0):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    folder.mkdir()
    xs, ys = [], []
    for i, n in enumerate(sizes):
        x = rng.normal(size=n)
        y = 2.5 * x + 0.3 + 0.1 * rng.normal(size=n)
        xs.append(x)
        ys.append(y)
        if csv:  # the files of a set may order their columns differently
            pairs = [(float(b), float(a)) if i % 2 else (float(a), float(b)) for a, b in zip(x, y)]
            rows = "".join(f"{u!r},{v!r}\n" for u, v in pairs)
            (folder / f"p{i}.csv").write_text(("y,x\n" if i % 2 else "x,y\n") + rows)
        else:
            pq.write_table(pa.table({"x": x, "y": y}), folder / f"p{i}.parquet")
    return np.concatenate(xs), np.concatenate(ys)


@pytest.mark.parametrize("kind,ref", [("parquet", "parts"), ("parquet", "parts/*.parquet"), ("csv", "parts/"),
                                      ("csv", "parts/p*.csv")])
def test_a_folder_or_glob_trains_as_its_rows_in_one_array(tmp_path, kind, ref):
    x, y = _write_parts(tmp_path / "parts", [40, 7, 25], csv=kind == "csv")
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.format(data=f"{kind}: {ref!r}"))
    alone = tmp_path / "alone.yaml"
    alone.write_text(SPEC.format(data="").replace("data:\n  \n", ""))
    assert optikit.load_data(spec).n_rows == 72
    assert optikit.run(spec).parameters == optikit.run(alone, data={"x": x, "y": y}).parameters


@pytest.mark.parametrize("ref,message", [("../*.parquet", "spec's folder"),
                                         ("none/*.parquet", "no parquet files match"),
                                         ("empty", "holds no .parquet files")])
def test_a_file_set_that_names_nothing_usable_is_refused_at_its_line(tmp_path, ref, message):
    (tmp_path / "empty").mkdir()
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.format(data=f"parquet: {ref!r}"))
    with pytest.raises(SpecError) as err:
        optikit.load_spec(spec)
    assert message in err.value.message and err.value.field == "data.parquet" and err.value.line == 5


def test_every_file_of_a_set_must_offer_the_columns(tmp_path):
    _write_parts(tmp_path / "parts", [5, 5], csv=True)
    (tmp_path / "parts" / "p2.csv").write_text("x,z\n1.0,2.0\n")
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.format(data="csv: parts"))
    with pytest.raises(SpecError) as err:
        optikit.load_spec(spec)
    assert "p2.csv has no column 'y'" in err.value.message


def test_a_record_copies_every_file_of_a_set(tmp_path):
    from optikit.cli import main

    _write_parts(tmp_path / "parts", [10, 12])
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.format(data="parquet: 'parts/*.parquet'"))
    assert main(["run", str(spec), "--quiet", "--record", str(tmp_path / "rec")]) == 0
    assert sorted(p.name for p in (tmp_path / "rec" / "parts").iterdir()) == ["p0.parquet", "p1.parquet"]
    assert main(["run", str(tmp_path / "rec" / "spec.yaml"), "--quiet"]) == 0  # the record runs as it is
