"""Exceedances through the command: the study file's ``exceedance`` thresholds are the
library's declared ``me.Exceedance`` quantities, so a rare one climbs the level ladder."""

from __future__ import annotations

import json
import textwrap

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
