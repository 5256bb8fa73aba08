"""Exceedances through the command: the study file's ``exceedance`` thresholds are the
library's declared ``me.Exceedance`` quantities, so a rare one climbs the level ladder."""

from __future__ import annotations

import json
import textwrap

import pytest
from scipy import stats

from multiexpect.cli.main import main

MODEL = """
def total(x):
    return x.sum(axis=1)
"""

#: Y = X1 + ... + X4, X_i ~ N(0, 1): P(Y > 8.5) = P(Z > 4.25) = 1.07e-5
RARE = """
[study]
name = "gaussian sum"
seed = 3

[model]
python = "gsum:total"

[[inputs]]
name = "a"
dist = "norm"

[[inputs]]
name = "b"
dist = "norm"

[[inputs]]
name = "c"
dist = "norm"

[[inputs]]
name = "d"
dist = "norm"

[expectations]
budget = 10000
moments = [1]
exceedance = [8.5]
baseline = "mc"
"""


def run_study(tmp_path, text: str, capsys) -> dict:
    (tmp_path / "gsum.py").write_text(MODEL, encoding="utf-8")
    study = tmp_path / "study.toml"
    study.write_text(textwrap.dedent(text), encoding="utf-8")
    code = main(["run", str(study), "--store", str(tmp_path / "s.sqlite"), "--no-progress"])
    _, err = capsys.readouterr()
    assert code == 0, err
    return json.loads((tmp_path / "s.results.json").read_text())


def test_rare_exceedance_reaches_its_level_through_the_ladder(tmp_path, capsys):
    doc = run_study(tmp_path, RARE, capsys)
    truth = stats.norm.sf(8.5 / 2.0)
    main_rec, base = doc["analyses"][0]["main"], doc["analyses"][0]["baseline"]
    row = main_rec["rows"][1]
    assert row["name"] == "P(Y > 8.5)"
    assert row["stderr"] > 0
    assert abs(row["estimate"] - truth) < 4 * row["stderr"], (row, truth)
    assert row["stderr"] < 0.2 * truth  # 10^4 runs; 0/1 columns got no hit at all here
    assert row["low"] < row["estimate"] < row["high"]
    # the declared quantities are recorded with the result: an exceedance with its score
    declared = main_rec["result"]["settings"]["quantities"]
    assert declared == [{"kind": "moment", "output": 0, "power": 1},
                        {"kind": "exceedance", "output": 0, "threshold": 8.5, "side": ">"}]
    # crude MC with the same runs sees no hit: an upper bound, never a zero-width interval
    brow = base["rows"][1]
    assert brow["estimate"] == 0.0 and brow["low"] == 0.0 and brow["high"] > 1e-4


CURVE = RARE.replace("""[expectations]
budget = 10000
moments = [1]
exceedance = [8.5]
baseline = "mc"
""", """[exceedance_curve]
budget = 10000
from = 2.0
to = 10.0
points = 9
quantiles = [1e-3, 1e-5]
baseline = "mc"
""")


def test_exceedance_curve_analysis_with_quantiles_and_report(tmp_path, capsys):
    (tmp_path / "gsum.py").write_text(MODEL, encoding="utf-8")
    study = tmp_path / "study.toml"
    study.write_text(textwrap.dedent(CURVE), encoding="utf-8")
    html = tmp_path / "r.html"
    code = main(["run", str(study), "--store", str(tmp_path / "s.sqlite"), "--no-progress",
                 "--report", str(html)])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads((tmp_path / "s.results.json").read_text())
    analysis = doc["analyses"][0]
    assert analysis["kind"] == "exceedance_curve"
    rows = analysis["main"]["rows"]
    grid = [2.0 + k for k in range(9)]
    assert [r["name"] for r in rows] == [f"P(Y > {t:g})" for t in grid] + ["q(0.001)",
                                                                           "q(1e-05)"]
    for row, t in zip(rows, grid):  # 2.9e-7 ... 0.16 from one budget
        truth = stats.norm.sf(t / 2.0)
        assert abs(row["estimate"] - truth) < 4 * row["stderr"], (row, truth)
        assert row["low"] < row["estimate"] < row["high"]
    for row, a in zip(rows[9:], (1e-3, 1e-5)):  # by inversion: the truth inside, up to
        q = 2.0 * stats.norm.isf(a)              # the log-linear reading between t's
        assert row["low"] < row["estimate"] < row["high"]
        assert row["low"] - 0.05 <= q <= row["high"] + 0.05
        assert row["stderr"] == "nan"
    # crude MC: no hit above t = 7, each such point an upper bound, shown as such
    base = analysis["baseline"]["rows"]
    assert [r["estimate"] for r in base[6:9]] == [0.0, 0.0, 0.0]
    assert all(r["high"] > 0 for r in base[6:9])
    assert out.count("(no hit: an upper bound)") == 3
    # its P(Y > 7) rests on 3 hits: flagged on the terminal and in the report; nothing else
    assert out.count("not to be trusted") == 1
    assert "P(Y > 7)" in [line.split("  ")[1].strip() for line in out.splitlines()
                          if "not to be trusted" in line]
    assert "q(1e-05)" in out
    page = html.read_text(encoding="utf-8")
    assert 'alt="exceedance curve"' in page
    assert page.count("(no hit)") == 3
    assert page.count("<b class=\"warn\">") == 1
    assert "q(a) is the threshold exceeded with probability a (0.001, 1e-05)" in page


def test_changing_only_the_quantile_levels_resumes_from_the_store(tmp_path, capsys):
    (tmp_path / "gsum.py").write_text(MODEL, encoding="utf-8")
    study = tmp_path / "study.toml"
    small = CURVE.replace("budget = 10000", "budget = 2000").replace('baseline = "mc"\n', "")
    study.write_text(textwrap.dedent(small), encoding="utf-8")
    argv = ["run", str(study), "--store", str(tmp_path / "s.sqlite"), "--no-progress"]
    assert main(argv) == 0
    study.write_text(textwrap.dedent(small.replace("[1e-3, 1e-5]", "[1e-2]")),
                     encoding="utf-8")
    assert main(argv) == 0
    capsys.readouterr()
    doc = json.loads((tmp_path / "s.results.json").read_text())
    assert doc["analyses"][0]["main"]["runs"]["reused"] == 2000
    assert doc["analyses"][0]["main"]["rows"][-1]["name"] == "q(0.01)"


@pytest.mark.parametrize("table, pattern", [
    ("thresholds = [1.0, 3.0, 2.0]", r"exceedance_curve\.thresholds: must be strictly "
                                     r"increasing$"),
    ("thresholds = [1.0]\nfrom = 0.0", r"exceedance_curve: give 'thresholds' or 'from'"),
    ("from = 1.0\nto = 2.0", r"exceedance_curve: give 'thresholds', or all of 'from', 'to' "
                             r"and 'points' \(missing 'points'\)$"),
    ("from = 2.0\nto = 1.0\npoints = 3", r"exceedance_curve\.to: must be above 'from'"),
    ("from = 1.0\nto = 2.0\npoints = 1", r"exceedance_curve\.points: must be"),
    ("from = 1.0\nto = 2.0\npoints = 100000", r"exceedance_curve\.points: at most 2048"),
    ("thresholds = [1.0, 2.0]\nquantiles = [1.5]",
     r"exceedance_curve\.quantiles\[0\]: must lie in \(0, 1\)"),
    ("thresholds = [1.0, 2.0]\nweights = [1.0]",
     r"exceedance_curve\.weights: must have 2 entries"),
    ("thresholds = [1.0, 2.0]\nbaseline = \"separate-is\"",
     r"exceedance_curve\.baseline: must be one of"),
])
def test_bad_curve_tables_are_one_line_errors_before_any_run(tmp_path, capsys, table,
                                                              pattern):
    import re

    (tmp_path / "gsum.py").write_text(MODEL.replace("return", "raise AssertionError  #"),
                                      encoding="utf-8")
    head = RARE.split("[expectations]")[0]
    study = tmp_path / "study.toml"
    study.write_text(textwrap.dedent(head) + "[exceedance_curve]\nbudget = 1000\n" + table
                     + "\n", encoding="utf-8")
    code = main(["run", str(study), "--store", str(tmp_path / "s.sqlite"), "--no-progress"])
    _, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert re.search(pattern, lines[0]), lines[0]
