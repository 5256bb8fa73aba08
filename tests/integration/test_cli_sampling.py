"""The study file's ``sampling`` key: an RQMC study through the command gives the library's
numbers for the same seed, is recorded in the results and the report, and a bad value is
refused with one line naming the key before any model run."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect import testfunctions as tf
from multiexpect.cli.main import main
from multiexpect.cli.study import load_study

from .test_cli import assert_user_error, run_cli, write

SEED = 4  # BASE's [study] seed
THRESHOLD = 0.08


def cantilever_law() -> me.Law:
    """The law BASE declares, built the way a library user would."""
    return me.Law([stats.lognorm(s=0.08, scale=555.0), stats.lognorm(s=0.08, scale=452.0),
                   stats.lognorm(s=0.06, scale=199.6), stats.norm(loc=0.062, scale=0.0062),
                   stats.norm(loc=0.0987, scale=0.00987), stats.norm(loc=4.29, scale=0.429)])


def deflection(x):
    return np.ravel(tf.cantilever_beam(x))


#: what the study declares: E[Y] and P(Y > THRESHOLD) on the raw output (the exceedance
#: climbs the level ladder when it is rare)
QUANTITIES = [me.Moment(0, 1), me.Exceedance(0, THRESHOLD)]


def run_study(tmp_path, capsys, extra: str, report: bool = False) -> dict:
    study = write(tmp_path, extra)
    argv = ["run", study, "--store", str(tmp_path / "s.sqlite"), "--no-progress"]
    if report:
        argv += ["--report", str(tmp_path / "r.html")]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    return json.loads((tmp_path / "s.results.json").read_text())


def assert_same_numbers(record: dict, result, level: float = 0.95) -> None:
    """The results file's record holds the library result's numbers, bit for bit."""
    assert record["result"]["estimate"] == [float(v) for v in result.estimate]
    assert record["result"]["stderr"] == [float(v) for v in result.stderr]
    low, high = result.confidence_interval(level)
    assert [r["low"] for r in record["rows"]] == [float(v) for v in low]
    assert [r["high"] for r in record["rows"]] == [float(v) for v in high]


def test_rqmc_expectations_study_gives_the_library_numbers(tmp_path, capsys):
    extra = f"""
[expectations]
budget = 4000
moments = [1]
exceedance = [{THRESHOLD}]
sampling = "rqmc"
baseline = "mc"
"""
    doc = run_study(tmp_path, capsys, extra, report=True)
    analysis = doc["analyses"][0]
    assert doc["settings"]["analyses"][0]["sampling"] == "rqmc"
    for record, method in ((analysis["main"], "aiscv"), (analysis["baseline"], "mc")):
        result = me.expectations(deflection, cantilever_law(), budget=4000,
                                 quantities=QUANTITIES, method=method, rng=SEED,
                                 sampling="rqmc")
        # aISCV's final replicates pooled with its adaptive stages: Welch's t; plain RQMC's
        # 15 replicates: their subset means
        assert result.diagnostics["interval"] == (
            "student-t-welch" if method == "aiscv" else "subset-means")
        assert_same_numbers(record, result)
        assert record["result"]["diagnostics"]["dof"] == result.diagnostics["dof"]
        assert record["runs"]["spent"] == result.n_evaluations
    # the i.i.d. twin is another study with other numbers
    iid = me.expectations(deflection, cantilever_law(), budget=4000, quantities=QUANTITIES,
                          rng=SEED)
    assert analysis["main"]["result"]["estimate"] != [float(v) for v in iid.estimate]
    html = (tmp_path / "r.html").read_text()
    assert "<th>sampling</th>" in html.replace(' class="l"', "")
    assert ">rqmc<" in html
    # the report says which interval each side has
    assert "aiscv: intervals: Student&#x27;s t on Welch" in html
    assert "mc: intervals: Hartigan&#x27;s subset means of 15 RQMC replicates" in html


@pytest.mark.parametrize("baseline", ["mc", "separate-is"])
def test_auto_expectations_study_gives_the_library_numbers(tmp_path, capsys, baseline):
    """``sampling = "auto"``: the method runs the library's ``"auto"``, its baseline RQMC
    (``separate-is`` too: each quantity's final stage on replicates)."""
    extra = f"""
[expectations]
budget = 4000
moments = [1, 2]
sampling = "auto"
baseline = "{baseline}"
"""
    doc = run_study(tmp_path, capsys, extra)
    analysis = doc["analyses"][0]
    assert doc["settings"]["analyses"][0]["sampling"] == "auto"
    quantities = [me.Moment(0, 1), me.Moment(0, 2)]
    for record, method, sampling in ((analysis["main"], "aiscv", "auto"),
                                     (analysis["baseline"], baseline, "rqmc")):
        result = me.expectations(deflection, cantilever_law(), budget=4000,
                                 quantities=quantities, method=method, rng=SEED,
                                 sampling=sampling)
        assert_same_numbers(record, result)
        assert record["result"]["diagnostics"].get("route") == result.diagnostics.get("route")
        assert record["runs"]["spent"] == result.n_evaluations
    assert analysis["main"]["result"]["diagnostics"]["route"] in ("law-rqmc", "adaptive")
    assert analysis["baseline"]["result"]["diagnostics"]["sampling"] == "rqmc"


def test_auto_sobol_study_gives_the_library_numbers(tmp_path, capsys):
    """``[sobol] sampling = "auto"``: the method runs the library's ``"auto"``, the
    pick-freeze baseline RQMC."""
    extra = """
[sobol]
budget = 12000
orders = ["first"]
sampling = "auto"
baseline = "pick-freeze"
"""
    doc = run_study(tmp_path, capsys, extra)
    analysis = doc["analyses"][0]
    for record, method, sampling in ((analysis["main"], "aiscv", "auto"),
                                     (analysis["baseline"], "pick-freeze", "rqmc")):
        result = me.sobol_indices(tf.cantilever_beam, cantilever_law(), budget=12000,
                                  orders=("first",), method=method, rng=SEED,
                                  sampling=sampling)
        assert [r["estimate"] for r in record["rows"]] == [float(v) for v in
                                                           result.first_order]
    assert analysis["main"]["result"]["diagnostics"]["route"] in ("law-rqmc", "adaptive")


def test_rqmc_sobol_study_gives_the_library_numbers(tmp_path, capsys):
    extra = """
[sobol]
budget = 8000
orders = ["first"]
method = "pick-freeze"
sampling = "rqmc"
"""
    doc = run_study(tmp_path, capsys, extra)
    record = doc["analyses"][0]["main"]
    result = me.sobol_indices(tf.cantilever_beam, cantilever_law(),
                              budget=8000, orders=("first",), method="pick-freeze",
                              rng=SEED, sampling="rqmc")
    assert result.diagnostics["dof"] == result.diagnostics["replicates"] - 1
    assert [r["estimate"] for r in record["rows"]] == [float(v) for v in result.first_order]
    assert [r["stderr"] for r in record["rows"]] == \
        [float(v) for v in result.first_order_stderr]
    low, high = result.confidence_interval(0.95)["first"]
    assert [r["low"] for r in record["rows"]] == [float(v) for v in low]
    assert [r["high"] for r in record["rows"]] == [float(v) for v in high]


@pytest.mark.parametrize("method", ["mc", "mixture-mc"])
def test_rqmc_perturbed_study_gives_the_library_numbers(tmp_path, capsys, method):
    extra = f"""
[perturbed]
budget = 2000
delta = 0.5
method = "{method}"
sampling = "rqmc"
"""
    doc = run_study(tmp_path, capsys, extra)
    record = doc["analyses"][0]["main"]
    law = cantilever_law()
    result = me.perturbed_law_indices(deflection, law, me.mean_shift_perturbations(law, 0.5),
                                      budget=2000, method=method, rng=SEED, sampling="rqmc")
    assert result.diagnostics["dof"] == result.diagnostics["replicates"] - 1
    assert [r["estimate"] for r in record["rows"]] == [float(v) for v in result.indices]
    low, high = result.confidence_interval(0.95)
    assert [r["low"] for r in record["rows"]] == [float(v) for v in low]
    assert [r["high"] for r in record["rows"]] == [float(v) for v in high]


def test_default_sampling_is_per_method_and_recorded(tmp_path, capsys):
    """No ``sampling`` key: the method takes its default ("auto" for aiscv) and the baseline
    its own ("mc" for mc), both recorded; the numbers are the library's defaults; the run
    identity of the baseline keeps no sampling key (its stored runs stay usable)."""
    extra = f"""
[expectations]
budget = 600
moments = [1]
exceedance = [{THRESHOLD}]
baseline = "mc"
"""
    doc = run_study(tmp_path, capsys, extra)
    analysis = doc["settings"]["analyses"][0]
    assert (analysis["sampling"], analysis["baseline_sampling"]) == ("auto", "mc")
    result = me.expectations(deflection, cantilever_law(), budget=600,
                             quantities=QUANTITIES, rng=SEED)
    assert result.settings["sampling"] == "auto"
    assert_same_numbers(doc["analyses"][0]["main"], result)
    baseline = me.expectations(deflection, cantilever_law(), budget=600, method="mc",
                               quantities=QUANTITIES, rng=SEED, sampling="mc")
    assert_same_numbers(doc["analyses"][0]["baseline"], baseline)
    study = load_study(write(tmp_path, extra))
    analysis = study.analyses[0]
    assert study.run_identity(analysis, "aiscv")["analysis"]["sampling"] == "auto"
    assert "sampling" not in study.run_identity(analysis, "mc")["analysis"]


COUNTING_MODEL = """
import numpy as np

def model(x):
    with open({marker!r}, "a") as fh:
        fh.write("called\\n")
    return np.sum(x, axis=1)
"""

NORMAL_STUDY = """
[study]
name = "counting"
seed = 1

[model]
python = "counting_model_rqmc:model"

[[inputs]]
name = "a"
dist = "norm"

[[inputs]]
name = "b"
dist = "norm"
{extra}
"""


@pytest.mark.parametrize("extra, pattern", [
    ('[expectations]\nbudget = 2000\nmoments = [1]\nsampling = "qmc"\n',
     r"expectations\.sampling: must be one of mc, rqmc, auto; got 'qmc'$"),
    ('[expectations]\nbudget = 2000\nmoments = [1]\nsampling = "auto"\nmethod = "mc"\n',
     r"expectations\.sampling: 'auto' is not available for method 'mc' \(only 'aiscv'\)$"),
    ('[sobol]\nbudget = 2000\nsampling = "auto"\nmethod = "pick-freeze"\n',
     r"sobol\.sampling: 'auto' is not available for method 'pick-freeze' \(only "
     r"'aiscv'\)$"),
    ("[expectations]\nbudget = 2000\nmoments = [1]\nsampling = 1\n",
     r"expectations\.sampling: must be a string, got an? integer$"),
    ('[expectations]\nbudget = 2000\nmoments = [1]\nsampling = "auto"\n'
     'method = "separate-is"\n',
     r"expectations\.sampling: 'auto' is not available for method 'separate-is' \(only "
     r"'aiscv'\)$"),
    ('[perturbed]\nbudget = 2000\nsampling = "auto"\nmethod = "mc"\n',
     r"perturbed\.sampling: 'auto' is not available for method 'mc' \(only 'aiscv'\)$"),
    ('[expectations]\nbudget = 2000\nmoments = [1]\nsampling = "rqmc"\n'
     'method = "separate-is"\n[expectations.options]\nreplicates = 1\n',
     r"expectations: 'replicates' must be an int >= 2"),
    ('[expectations]\nbudget = 2000\nmoments = [1]\n[expectations.options]\n'
     'sampling = "rqmc"\n',
     r"expectations\.options\.sampling: give it as 'expectations\.sampling'"),
])
def test_bad_sampling_is_refused_before_any_model_run(tmp_path, capsys, extra, pattern):
    marker = tmp_path / "calls.txt"
    (tmp_path / "counting_model_rqmc.py").write_text(
        textwrap.dedent(COUNTING_MODEL.format(marker=str(marker))), encoding="utf-8")
    study = write(tmp_path, extra, base=NORMAL_STUDY)
    store = tmp_path / "s.sqlite"
    code, _, err = run_cli(["run", study, "--store", str(store)], capsys)
    assert_user_error(code, err, pattern)
    assert not marker.exists()  # the model never ran
    assert not store.exists()


def test_counting_model_runs_when_the_study_is_valid(tmp_path, capsys):
    """The marker of the refusal test does record runs (that test could fail)."""
    marker = tmp_path / "calls.txt"
    (tmp_path / "counting_model_rqmc.py").write_text(
        textwrap.dedent(COUNTING_MODEL.format(marker=str(marker))), encoding="utf-8")
    study = write(tmp_path, '[expectations]\nbudget = 2000\nmoments = [1]\nsampling = "rqmc"\n'
                  'method = "mc"\n', base=NORMAL_STUDY)
    assert main(["run", study, "--store", str(tmp_path / "s.sqlite"), "--no-progress"]) == 0
    capsys.readouterr()
    assert marker.exists()


def test_rqmc_exceedance_curve_study_gives_the_library_numbers(tmp_path, capsys):
    extra = """
[exceedance_curve]
budget = 2000
thresholds = [0.04, 0.06, 0.08]
sampling = "rqmc"
"""
    doc = run_study(tmp_path, capsys, extra)
    assert doc["settings"]["analyses"][0]["sampling"] == "rqmc"
    curve = me.exceedance_curve(deflection, cantilever_law(), [0.04, 0.06, 0.08],
                                budget=2000, rng=SEED, sampling="rqmc")
    assert curve.result.diagnostics["interval"] in ("subset-means", "student-t-welch")
    record = doc["analyses"][0]["main"]
    assert record["result"]["estimate"] == [float(v) for v in curve.result.estimate]
    assert record["result"]["stderr"] == [float(v) for v in curve.result.stderr]


@pytest.mark.parametrize("method", ["pick-freeze", "aiscv"])
def test_one_net_sobol_study_gives_the_library_numbers(tmp_path, capsys, method):
    extra = f"""
[sobol]
budget = 8000
method = "{method}"
sampling = "rqmc"
[sobol.options]
replicates = 1
blocks = 8
"""
    doc = run_study(tmp_path, capsys, extra, report=True)
    record = doc["analyses"][0]["main"]
    result = me.sobol_indices(tf.cantilever_beam, cantilever_law(), budget=8000,
                              method=method, rng=SEED, sampling="rqmc", replicates=1,
                              blocks=8)
    # aISCV's blocks pooled with its adaptive stages: Welch's dof, at least B - 1
    assert result.diagnostics["interval"] == (
        "net-blocks" if method == "pick-freeze" else "student-t-welch")
    dof = result.diagnostics["dof"]
    assert dof == 7 if method == "pick-freeze" else dof >= 7
    estimates = [float(v) for v in result.first_order] + [float(v) for v in result.total_order]
    assert [r["estimate"] for r in record["rows"]] == estimates


def test_chaos_controlled_sobol_study_gives_the_library_numbers(tmp_path, capsys):
    """``surrogate = "chaos"`` in a ``[sobol]`` table's options reaches the library."""
    extra = """
[sobol]
budget = 8000
method = "pick-freeze"
sampling = "rqmc"
[sobol.options]
replicates = 1
blocks = 8
surrogate = "chaos"
"""
    doc = run_study(tmp_path, capsys, extra, report=True)
    record = doc["analyses"][0]["main"]
    result = me.sobol_indices(tf.cantilever_beam, cantilever_law(), budget=8000,
                              method="pick-freeze", rng=SEED, sampling="rqmc", replicates=1,
                              blocks=8, surrogate="chaos")
    assert result.diagnostics["surrogate"]["surrogate"] == "chaos"
    assert result.diagnostics["surrogate"]["degree"] == 3
    estimates = [float(v) for v in result.first_order] + [float(v) for v in result.total_order]
    assert [r["estimate"] for r in record["rows"]] == estimates


@pytest.mark.parametrize("option, library", [("chaos", "chaos"), ("none", None)])
def test_surrogate_in_an_expectations_table_gives_the_library_numbers(tmp_path, capsys,
                                                                     option, library):
    """``surrogate = "chaos"`` in an ``[expectations]`` table's options reaches aISCV's RQMC
    final stage: the library's numbers, and the report names the control; ``"none"`` (TOML
    has no None) is the library's ``surrogate=None`` (a string there would be refused)."""
    extra = f"""
[expectations]
budget = 4000
moments = [1, 2]
sampling = "rqmc"
[expectations.options]
surrogate = "{option}"
"""
    doc = run_study(tmp_path, capsys, extra, report=True)
    record = doc["analyses"][0]["main"]
    quantities = [me.Moment(0, 1), me.Moment(0, 2)]
    result = me.expectations(deflection, cantilever_law(), budget=4000, quantities=quantities,
                             rng=SEED, sampling="rqmc", surrogate=library)
    assert_same_numbers(record, result)
    html = (tmp_path / "r.html").read_text()
    if library is None:
        assert "surrogate" not in result.diagnostics and "polynomial chaos" not in html
    else:
        assert all(result.diagnostics["surrogate"]["controlled"])
        assert "polynomial chaos control on 2 of 2 quantities" in html


def test_one_net_expectations_study_gives_the_library_numbers(tmp_path, capsys):
    """aISCV's one-net final stage (``replicates = 1``) through the command: the library's
    numbers, and the report names its interval."""
    extra = f"""
[expectations]
budget = 4000
moments = [1]
exceedance = [{THRESHOLD}]
sampling = "rqmc"
[expectations.options]
replicates = 1
blocks = 8
"""
    doc = run_study(tmp_path, capsys, extra, report=True)
    record = doc["analyses"][0]["main"]
    result = me.expectations(deflection, cantilever_law(), budget=4000, quantities=QUANTITIES,
                             rng=SEED, sampling="rqmc", replicates=1, blocks=8)
    assert (result.diagnostics["blocks"], result.diagnostics["nets"]) == (8, 2)
    assert_same_numbers(record, result)
    assert record["result"]["diagnostics"]["dof"] == result.diagnostics["dof"]
    assert "blocks of 2 scrambled nets" in (tmp_path / "r.html").read_text()


@pytest.mark.parametrize("surrogate", ["", 'surrogate = "none"'])
def test_sobol_study_takes_the_law_route_chaos_by_default_and_none_turns_it_off(
        tmp_path, capsys, surrogate):
    """A ``[sobol]`` table with the defaults takes the library's default
    (``surrogate="auto"``: the chaos control on the law route); ``surrogate = "none"`` in its
    options is the library's ``surrogate=None`` (TOML has no None)."""
    extra = f"""
[sobol]
budget = 20000
[sobol.options]
{surrogate}
"""
    doc = run_study(tmp_path, capsys, extra, report=True)
    record = doc["analyses"][0]["main"]
    result = me.sobol_indices(tf.cantilever_beam, cantilever_law(), budget=20000, rng=SEED,
                              surrogate=None if surrogate else "auto")
    assert result.diagnostics["route"] == "law-rqmc"
    assert ("surrogate" in result.diagnostics) == (not surrogate)
    # the report says so under the indices' table
    html = (tmp_path / "r.html").read_text()
    assert ("cross-fitted by replicate" in html) == (not surrogate)
    estimates = [float(v) for v in result.first_order] + [float(v) for v in result.total_order]
    assert [r["estimate"] for r in record["rows"]] == estimates
