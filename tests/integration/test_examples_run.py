"""Every example study file runs end to end (at a small budget), not only parses: its
model imports and runs, its analyses and baselines finish with finite estimates and the
report is written."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from multiexpect.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: small budgets that still leave the adaptive method its pilot and two stages
#: (the rare event of perturbed_laws needs its full budget to be seen at all)
SMALL = {"moments_exceedance": 1000, "alternative_laws": 600, "sobol_ishigami": 700,
         "perturbed_laws": 4000, "command_model": 60, "exceedance_curve": 1000}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_example_study_runs(name, tmp_path, capsys):
    for helper in ("models.py", "simulator.py"):
        shutil.copy(EXAMPLES / helper, tmp_path / helper)
    text = (EXAMPLES / f"{name}.toml").read_text()
    text = re.sub(r"(?m)^budget = \d+", f"budget = {SMALL[name]}", text)
    # in-process: faster here
    text = re.sub(r'(?m)^(executor = "processes"|workers = \d+).*$', "", text)
    study = tmp_path / f"{name}.toml"
    study.write_text(text)
    code = main(["run", str(study), "--store", str(tmp_path / "s.sqlite"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0, err
    doc = json.loads((tmp_path / "s.results.json").read_text())
    for analysis in doc["analyses"]:
        for record in (analysis["main"], analysis["baseline"]):
            if record is None:
                continue
            estimates = [float(r["estimate"]) for r in record["rows"]]
            assert record["rows"] and np.all(np.isfinite(estimates)), record["rows"]
            assert 0 < record["runs"]["spent"] <= SMALL[name]
