"""CommandModel: an external program per point, through argv, never through a shell."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest
from scipy import stats

import multiexpect as me

NASTY = "$(rm -rf x); echo"
SCRIPT = textwrap.dedent("""
    import json, sys, time
    with open(sys.argv[1]) as fh:
        inputs = json.load(fh)
    a, b = inputs[sys.argv[3]], inputs["b; touch pwned"]
    if a > 2.0:
        print("negative pressure", file=sys.stderr)
        sys.exit(3)
    if a < -2.5:
        time.sleep(30)
    with open(sys.argv[2], "w") as fh:
        fh.write(f"{a * a!r} {a + 2 * b!r}\\n")
""")


def reference(x):
    return np.column_stack([x[:, 0] * x[:, 0], x[:, 0] + 2 * x[:, 1]])


@pytest.fixture
def sim(tmp_path):
    script = tmp_path / "sim.py"
    script.write_text(SCRIPT)
    (tmp_path / "x").mkdir()  # what an interpreted "rm -rf x" would delete
    return script


def _model(sim, tmp_path, **kw):
    # the nasty name is passed as an argument and is a JSON key: neither is interpreted
    return me.CommandModel([sys.executable, str(sim), "{input}", "{output}", NASTY],
                           names=[NASTY, "b; touch pwned"], workdir=tmp_path / "runs", **kw)


def test_command_model_gives_the_in_process_result(sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    law = me.Law([stats.uniform(-1, 2), stats.norm()])
    model = _model(sim, tmp_path, timeout=60)
    res = me.expectations(model, law, budget=12, method="mc", rng=2)
    ref = me.expectations(reference, law, budget=12, method="mc", rng=2)
    np.testing.assert_array_equal(res.estimate, ref.estimate)  # repr round-trips exactly
    assert (tmp_path / "x").is_dir() and not (tmp_path / "pwned").exists()
    assert not any((tmp_path / "runs").iterdir())  # successful working dirs removed
    # under a process pool too
    par = me.expectations(model, law, budget=12, method="mc", rng=2, executor="processes",
                          n_workers=2)
    np.testing.assert_array_equal(par.estimate, ref.estimate)


def test_command_failure_timeout_and_kept_workdir(sim, tmp_path):
    model = _model(sim, tmp_path, timeout=1.0)
    x = np.array([[0.5, 1.0], [2.5, 0.0], [-3.0, 0.0], [0.25, -1.0]])
    y, ok, errors, seconds = model.run_points(x)
    np.testing.assert_array_equal(ok, [True, False, False, True])
    np.testing.assert_array_equal(y[ok], reference(x)[ok])
    assert errors[1].startswith("exit status 3: negative pressure (working directory kept: ")
    assert errors[2].startswith("timed out after 1.0 s")
    assert 1.0 <= seconds[2] < 10
    kept = sorted((tmp_path / "runs").iterdir())
    assert len(kept) == 2
    inputs = [json.loads((k / "inputs.json").read_text()) for k in kept]
    assert sorted(i[NASTY] for i in inputs) == [-3.0, 2.5]
    # through expectations, with a store: the study stops, the successes are kept
    store = me.InMemoryStore()
    law = me.Law([stats.uniform(1.5, 1.0), stats.norm()])  # half the points fail
    with pytest.raises(me.ModelEvaluationError,
                       match=r"the model failed at \d+ of 8 points; first failing input: "
                             r"\[2\..*exit status 3: negative pressure"):
        me.expectations(model, law, budget=8, method="mc", rng=0, store=store)
    study = store.studies()[0]
    assert store.count_runs(study, "ok") + store.count_runs(study, "failed") == 8
    assert store.count_runs(study, "ok") > 0


def test_command_model_arguments():
    with pytest.raises(ValueError, match="'argv' must be a non-empty list of str"):
        me.CommandModel("python sim.py {input}")
    with pytest.raises(ValueError, match="'timeout' must be a positive number"):
        me.CommandModel(["sim"], timeout=0)
    with pytest.raises(ValueError, match="'keep' must be one of"):
        me.CommandModel(["sim"], keep="some")
    with pytest.raises(ValueError, match="'output_file' must be a plain file name"):
        me.CommandModel(["sim"], output_file="../out.txt")
