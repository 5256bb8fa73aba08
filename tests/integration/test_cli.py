"""The ``multiexpect`` command, in-process through ``main(argv)``: every command and every
error path, messages pinned, exit codes checked (2 and one line for a user mistake)."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import numpy as np
import pytest

from multiexpect import __version__
from multiexpect.cli.main import main
from multiexpect.cli.study import dry_run, load_study

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

BASE = """
[study]
name = "small"
seed = 4

[model]
python = "multiexpect.testfunctions:cantilever_beam"
output_name = "D"

[[inputs]]
name = "F_X"
dist = "lognorm"
params = {{ s = 0.08, scale = 555.0 }}

[[inputs]]
name = "F_Y"
dist = "lognorm"
params = {{ s = 0.08, scale = 452.0 }}

[[inputs]]
name = "E"
dist = "lognorm"
params = {{ s = 0.06, scale = 199.6 }}

[[inputs]]
name = "w"
dist = "norm"
params = {{ loc = 0.062, scale = 0.0062 }}

[[inputs]]
name = "t"
dist = "norm"
params = {{ loc = 0.0987, scale = 0.00987 }}

[[inputs]]
name = "L"
dist = "norm"
params = {{ loc = 4.29, scale = 0.429 }}
{extra}
"""

EXPECT = """
[expectations]
budget = 600
moments = [1]
exceedance = [0.08]
"""


def write(tmp_path, extra=EXPECT, name="study.toml", base=BASE) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(base.format(extra=extra)), encoding="utf-8")
    return str(path)


def run_cli(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code, err, pattern):
    """Exit code 2, exactly one line on stderr, no traceback, matching ``pattern``."""
    import re

    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert re.search(pattern, lines[0]), lines[0]


# ---------------------------------------------------------------------- basics
def test_version(capsys):
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.strip() == f"multiexpect {__version__}"


@pytest.mark.parametrize("argv, expected", [
    (["--help"], "run a study file"),
    (["run", "--help"], "--executor"),
    (["report", "--help"], "STORE_OR_RESULTS"),
    (["demo", "--help"], "--out"),
])
def test_help_for_every_command(argv, expected, capsys):
    code, out, _ = run_cli(argv, capsys)
    assert code == 0 and expected in out


def test_no_command_prints_help_and_exits_2(capsys):
    code, out, _ = run_cli([], capsys)
    assert code == 2 and "COMMAND" in out


@pytest.mark.parametrize("argv, pattern", [
    (["frobnicate"], r"^multiexpect: error: argument COMMAND: invalid choice: 'frobnicate'"),
    (["run"], r"the following arguments are required: STUDY\.toml \(see 'multiexpect run "
              r"--help'\)$"),
    (["run", "x.toml", "--workers", "0"], r"argument --workers: must be a positive integer, "
                                          r"got '0'"),
    (["run", "x.toml", "--seed", "-1"], r"argument --seed: must be an integer >= 0"),
    (["run", "x.toml", "--bogus"], r"unrecognized arguments: --bogus"),
])
def test_usage_errors_are_one_line_exit_2(argv, pattern, capsys):
    code, _, err = run_cli(argv, capsys)
    assert_user_error(code, err, pattern)


# ---------------------------------------------------------------------- run and resume
def test_run_writes_results_and_resumes_from_the_store(tmp_path, capsys):
    study = write(tmp_path)
    store = str(tmp_path / "s.sqlite")
    code, out, err = run_cli(["run", study, "--store", store, "--no-progress"], capsys)
    assert code == 0, err
    assert "E[D]" in out and "P(D > 0.08)" in out
    results = tmp_path / "s.results.json"
    doc = json.loads(results.read_text())
    assert doc["format"] == "multiexpect-results/1"
    rec = doc["analyses"][0]["main"]
    assert rec["runs"] == {"spent": 600, "new": 600, "reused": 0}
    row = rec["rows"][0]
    assert row["name"] == "E[D]" and row["low"] < row["estimate"] < row["high"]
    assert abs(row["estimate"] - 0.0438) < 5 * row["stderr"]  # reference: large crude MC
    assert doc["reproducibility"]["seed"] == 4
    assert doc["reproducibility"]["versions"]["multiexpect"] == __version__
    assert {"numpy", "scipy", "python"} <= set(doc["reproducibility"]["versions"])
    # re-running resumes: nothing is run again and the estimates are bit-for-bit equal
    code, _, err = run_cli(["run", study, "--store", store, "--no-progress"], capsys)
    assert code == 0, err
    assert "0 new runs, 600 read from the store" in err
    doc2 = json.loads(results.read_text())
    assert doc2["analyses"][0]["main"]["result"]["estimate"] == rec["result"]["estimate"]
    assert doc2["analyses"][0]["main"]["runs"]["new"] == 0


def test_seed_option_overrides_and_changes_the_study(tmp_path, capsys):
    study = write(tmp_path)
    a, b = str(tmp_path / "a.sqlite"), str(tmp_path / "b.sqlite")
    assert main(["run", study, "--store", a, "--no-progress"]) == 0
    assert main(["run", study, "--store", b, "--no-progress", "--seed", "99"]) == 0
    capsys.readouterr()
    da = json.loads((tmp_path / "a.results.json").read_text())
    db = json.loads((tmp_path / "b.results.json").read_text())
    assert db["reproducibility"]["seed"] == 99
    assert da["analyses"][0]["main"]["result"]["estimate"] != \
        db["analyses"][0]["main"]["result"]["estimate"]


def test_default_store_is_named_after_the_study_in_the_working_directory(tmp_path, capsys,
                                                                          monkeypatch):
    study = write(tmp_path, name="beam.toml")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, _, err = run_cli(["run", study, "--no-progress"], capsys)
    assert code == 0, err
    assert (work / "beam.sqlite").exists() and (work / "beam.results.json").exists()


def test_changed_study_with_the_same_store_is_refused(tmp_path, capsys):
    study = write(tmp_path)
    store = str(tmp_path / "s.sqlite")
    assert main(["run", study, "--store", store, "--no-progress"]) == 0
    capsys.readouterr()
    write(tmp_path, extra=EXPECT.replace("[0.08]", "[0.09]"))
    code, _, err = run_cli(["run", study, "--store", store, "--no-progress"], capsys)
    assert_user_error(code, err, r"^multiexpect: error: --store: .*s\.sqlite holds "
                                 r"'small/expectations/aiscv' with other settings \(analysis\."
                                 r"exceedance: stored \[0\.08\], now \[0\.09\]\): restore the "
                                 r"study file to resume, or use a new store for a new study$")


def test_processes_executor_gives_the_in_process_result(tmp_path, capsys):
    study = write(tmp_path)
    code, _, err = run_cli(["run", study, "--store", str(tmp_path / "a.sqlite"),
                            "--no-progress"], capsys)
    assert code == 0, err
    code, _, err = run_cli(["run", study, "--store", str(tmp_path / "b.sqlite"),
                            "--no-progress", "--executor", "processes", "--workers", "2"],
                           capsys)
    assert code == 0, err
    da = json.loads((tmp_path / "a.results.json").read_text())
    db = json.loads((tmp_path / "b.results.json").read_text())
    assert da["analyses"][0]["main"]["result"]["estimate"] == \
        db["analyses"][0]["main"]["result"]["estimate"]
    assert db["reproducibility"]["executor"] == "processes"


def test_dask_executor_connects_to_a_scheduler(tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    study = write(tmp_path)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", dashboard_address=":0") as cluster:
        address = cluster.scheduler_address.replace("tcp://", "dask://")
        code, _, err = run_cli(["run", study, "--store", str(tmp_path / "d.sqlite"),
                                "--no-progress", "--executor", address], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "d.results.json").read_text())
    assert doc["analyses"][0]["main"]["runs"]["new"] == 600


def test_every_analysis_kind_runs(tmp_path, capsys):
    # i.i.d. points throughout: the whole budget of every analysis is spent (counted below)
    extra = EXPECT + """sampling = "mc"
[laws]
budget = 600
exceedance = 0.08
baseline = "mc"
sampling = "mc"
[[laws.alternative]]
name = "stiffer"
inputs.E = { dist = "lognorm", params = { s = 0.06, scale = 210.0 } }

[sobol]
budget = 1600
orders = ["total"]
sampling = "mc"

[perturbed]
budget = 600
delta = 1.0
inputs = ["w"]
sampling = "mc"
"""
    study = write(tmp_path, extra)
    code, _, err = run_cli(["run", study, "--store", str(tmp_path / "s.sqlite"),
                            "--no-progress", "--report", str(tmp_path / "r.html")], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "s.results.json").read_text())
    kinds = [a["kind"] for a in doc["analyses"]]
    assert kinds == ["expectations", "laws", "sobol", "perturbed"]
    laws = doc["analyses"][1]
    assert laws["title"] == "Expectations under alternative laws: P(D > 0.08)"
    assert [r["name"] for r in laws["main"]["rows"]] == ["nominal", "stiffer"]
    assert laws["baseline"]["method"] == "mc"
    # references from 400 000 crude MC runs (s.e. 4e-4): nominal 0.0567, E scale 210: 0.0450
    for row, ref in zip(laws["main"]["rows"], (0.0567, 0.0450)):
        assert abs(row["estimate"] - ref) < 4 * row["stderr"], row
    assert [r["name"] for r in doc["analyses"][2]["main"]["rows"]] == \
        ["ST F_X", "ST F_Y", "ST E", "ST w", "ST t", "ST L"]
    assert [r["name"] for r in doc["analyses"][3]["main"]["rows"]] == \
        ["S w+1sd", "S w-1sd"]
    # Sobol' total order alone: d + 1 = 7 runs per pick-freeze point
    assert doc["reproducibility"]["model_runs"]["spent"] == 600 + 1200 + (1600 // 7) * 7 + 600
    assert (tmp_path / "r.html").read_text().count("<img") >= 4


# ---------------------------------------------------------------------- model failures
def test_failing_model_exits_1_with_one_line_and_resumes_after_a_fix(tmp_path, capsys):
    (tmp_path / "flaky.py").write_text(textwrap.dedent("""
        import os
        import numpy as np
        from multiexpect.testfunctions import cantilever_beam

        def model(x):
            y = cantilever_beam(x)
            if os.environ.get("FLAKY_BREAK") == "1":
                y = np.where(y > 0.07, np.nan, y)
            return y
    """))
    study = write(tmp_path, base=BASE.replace("multiexpect.testfunctions:cantilever_beam",
                                              "flaky:model"))
    store = str(tmp_path / "s.sqlite")
    os.environ["FLAKY_BREAK"] = "1"
    try:
        code, _, err = run_cli(["run", study, "--store", store, "--no-progress"], capsys)
    finally:
        del os.environ["FLAKY_BREAK"]
    assert code == 1
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert lines[-1].startswith("multiexpect: model error: the model returned a non-finite "
                                "value (NaN or inf) at ")
    assert "fix the model and re-run the same call to resume" in lines[-1]
    code, _, err = run_cli(["run", study, "--store", store, "--no-progress"], capsys)
    assert code == 0, err
    reused = json.loads((tmp_path / "s.results.json").read_text())["analyses"][0]["main"]
    assert reused["runs"]["reused"] > 0  # the successes of the failed batch were kept


def test_model_output_column_out_of_range(tmp_path, capsys):
    study = write(tmp_path, base=BASE.replace('output_name = "D"', "output = 3"))
    code, _, err = run_cli(["run", study, "--store", str(tmp_path / "s.sqlite"),
                            "--no-progress"], capsys)
    # found at the first model run: status lines, then one error line, no traceback
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == ("multiexpect: error: model.output is 3 but the "
                                            "model returned 1 column(s)")


# ---------------------------------------------------------------------- study-file errors
STUDY_ERRORS = [
    # (replace in BASE+EXPECT, by, expected message)
    ('[study]\nname = "small"', '[study]\nname = "small"\ncolour = "red"',
     r"study\.colour: unknown key; allowed here: description, level, name, seed$"),
    ('name = "small"\n', "",
     r"study\.name: missing \(required\)$"),
    ("seed = 4", 'seed = "four"', r"study\.seed: must be an integer, got a string$"),
    ("seed = 4\n", "", r"study\.seed: missing \(required, or pass --seed\)"),
    ("level", "level", None),  # placeholder (no change): see test below
    ('dist = "norm"\nparams = { loc = 0.0987', 'dist = "nrom"\nparams = { loc = 0.0987',
     r"inputs\[4\]\.dist: unknown continuous scipy\.stats distribution 'nrom'$"),
    ("params = { loc = 0.0987, scale = 0.00987 }", "params = { loc = 0.0987, scale = -1.0 }",
     r"inputs\[4\]\.params: invalid parameter values for scipy\.stats\.norm"),
    ("params = { loc = 0.0987, scale = 0.00987 }", "params = { mu = 0.0987 }",
     r"inputs\[4\]\.params: bad parameters for scipy\.stats\.norm: .*unexpected keyword"),
    ("params = { loc = 0.0987, scale = 0.00987 }", 'params = { loc = "big" }',
     r"inputs\[4\]\.params\.loc: must be a number, got a string$"),
    ('name = "t"', 'name = "w"', r"inputs\[4\]\.name: duplicate input name 'w'$"),
    ('name = "t"\n', "", r"inputs\[4\]\.name: missing \(required\)$"),
    ("[[inputs]]\nname = \"L\"", "[[inputs]]\nlabel = 1\nname = \"L\"",
     r"inputs\[5\]\.label: unknown key"),
    ('python = "multiexpect.testfunctions:cantilever_beam"', 'python = "nosuchmodule:f"',
     r"model\.python: cannot import module 'nosuchmodule'"),
    ('python = "multiexpect.testfunctions:cantilever_beam"',
     'python = "multiexpect.testfunctions:nope"',
     r"model\.python: module 'multiexpect\.testfunctions' has no attribute 'nope'$"),
    ('python = "multiexpect.testfunctions:cantilever_beam"', 'python = "justamodule"',
     r"model\.python: must be \"package\.module:function\", got 'justamodule'$"),
    ('python = "multiexpect.testfunctions:cantilever_beam"',
     'python = "multiexpect.testfunctions:cantilever_beam"\ncommand = ["sim"]',
     r"^multiexpect: error: model: give exactly one of 'python'"),
    ("output_name", "timeout = 3\noutput_name", r"model\.timeout: applies to 'command' "
                                                r"models only$"),
    ("budget = 600", "budget = 600.5", r"expectations\.budget: must be an integer, got a "
                                       r"number$"),
    ("budget = 600\n", "", r"expectations\.budget: missing \(required\)$"),
    ("moments = [1]", "moments = [0]", r"expectations\.moments\[0\]: must be an integer "
                                       r">= 1, got 0$"),
    ("moments = [1]\nexceedance = [0.08]", "",
     r"expectations: give 'moments' and/or 'exceedance' \(nothing to estimate\)$"),
    ("budget = 600", 'budget = 600\nmethod = "magic"',
     r"expectations\.method: must be one of aiscv, mc, mixture-mc, separate-is; got 'magic'$"),
    ("budget = 600", "budget = 600\noptions = { batch_sise = 10 }",
     r"expectations: unknown option\(s\) \['batch_sise'\] for method 'aiscv'"),
    ("budget = 600", "budget = 10",
     r"expectations: 'budget' \(10\) is too small for a pilot of 1 points"),
    ("[expectations]", "[expectation]", r"^multiexpect: error: expectation: unknown key; "
                                        r"allowed here: copula, exceedance_curve, expectations, "
                                        r"inputs, laws, "
                                        r"model, perturbed, run, sobol, study$"),
    ("[expectations]", '[run]\nexecutor = "threads"\n[expectations]',
     r"run\.executor: must be 'processes' or 'dask://HOST:PORT', got 'threads'$"),
    ("[expectations]", '[run]\nshare_runs = "yes"\n[expectations]',
     r"run\.share_runs: must be"),
]


@pytest.mark.parametrize("old, new, pattern", [e for e in STUDY_ERRORS if e[2]])
def test_study_errors_name_the_key(tmp_path, capsys, old, new, pattern):
    text = textwrap.dedent(BASE.format(extra=EXPECT))
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    code, _, err = run_cli(["run", str(path), "--store", str(tmp_path / "s.sqlite")], capsys)
    assert_user_error(code, err, pattern)
    assert not (tmp_path / "s.sqlite").exists()  # nothing was run or stored


@pytest.mark.parametrize("extra, pattern", [
    ("[sobol]\nbudget = 40\n", r"sobol: 'budget' \(40\) is too small: with d = 6 inputs"),
    ('[sobol]\nbudget = 4000\norders = ["second"]\n',
     r"sobol\.orders\[0\]: must be 'first' or 'total', got 'second'$"),
    ("[laws]\nbudget = 500\n", r"laws\.alternative: missing \(required\)$"),
    ('[laws]\nbudget = 500\n[[laws.alternative]]\nname = "x"\ninputs.Q = { dist = "norm" }\n',
     r"laws\.alternative\[0\]\.inputs\.Q: unknown input 'Q'; inputs: F_X, F_Y, E, w, t, L$"),
    ('[laws]\nbudget = 500\n[[laws.alternative]]\nname = "x"\n',
     r"laws\.alternative\[0\]: changes nothing"),
    ('[laws]\nbudget = 500\n[[laws.alternative]]\nname = "x"\n'
     'inputs.w = { dist = "norm", params = { loc = 0.062, scale = 0.0062 } }\n',
     r"laws\.alternative\[0\]: changes nothing: .* differ from the input law$"),
    ('[perturbed]\nbudget = 500\ninputs = ["Q"]\n', r"perturbed\.inputs\[0\]: unknown input "
                                                   r"'Q'"),
    ("[perturbed]\nbudget = 500\ndelta = -1\n", r"perturbed\.delta: must be a positive "
                                                r"number"),
    (EXPECT + "[copula]\ncorrelation = [[1.0, 0.5], [0.5, 1.0]]\n",
     r"copula\.correlation: must be a 6 x 6 array of arrays"),
    (EXPECT + "[copula]\ncorrelation = [[1,0,0,0,0,0],[0,1,0,0,0,0],[0,0,1,0,0,0],[0,0,0,1,2,0],"
     "[0,0,0,2,1,0],[0,0,0,0,0,1]]\n", r"copula\.correlation: must be positive definite$"),
])
def test_analysis_errors_name_the_key(tmp_path, capsys, extra, pattern):
    study = write(tmp_path, extra=extra)
    code, _, err = run_cli(["run", study, "--store", str(tmp_path / "s.sqlite")], capsys)
    assert_user_error(code, err, pattern)


def test_toml_syntax_error_gives_the_line(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('[study]\nname = "x"\nseed = = 3\n', encoding="utf-8")
    code, _, err = run_cli(["run", str(path)], capsys)
    assert_user_error(code, err, r"bad\.toml: invalid TOML: .*\(at line 3, column 8\)$")


def test_missing_study_file(tmp_path, capsys):
    code, _, err = run_cli(["run", str(tmp_path / "nope.toml")], capsys)
    assert_user_error(code, err, r"cannot read study file .*nope\.toml: No such file")


def test_workers_without_processes_and_bad_executor(tmp_path, capsys):
    study = write(tmp_path)
    code, _, err = run_cli(["run", study, "--workers", "2"], capsys)
    assert_user_error(code, err, r"--workers applies to --executor processes only$")
    code, _, err = run_cli(["run", study, "--executor", "dask://nohost"], capsys)
    assert_user_error(code, err, r"--executor: must be 'processes' or 'dask://HOST:PORT', got "
                                 r"'dask://nohost'$")


def test_store_that_is_not_a_store(tmp_path, capsys):
    study = write(tmp_path)
    bad = tmp_path / "s.sqlite"
    bad.write_text("not a database, just text " * 40)
    code, _, err = run_cli(["run", study, "--store", str(bad)], capsys)
    assert_user_error(code, err, r"--store: .*s\.sqlite is not a multiexpect store: ")


def test_store_folder_must_exist(tmp_path, capsys):
    study = write(tmp_path)
    code, _, err = run_cli(["run", study, "--store", str(tmp_path / "no" / "s.sqlite")], capsys)
    assert_user_error(code, err, r"--store: folder .*no does not exist$")


def test_report_folder_must_exist_before_any_run(tmp_path, capsys):
    study = write(tmp_path)
    store = tmp_path / "s.sqlite"
    code, _, err = run_cli(["run", study, "--store", str(store),
                            "--report", str(tmp_path / "none" / "r.html")], capsys)
    assert_user_error(code, err, r"--report: folder .*none does not exist$")
    assert not store.exists()  # refused before the study opened its store or ran the model


def test_a_moment_on_few_effective_points_is_flagged_in_summary_and_report(tmp_path, capsys):
    """E[D^60] of the cantilever from 600 runs rests on about one point (Kish's effective
    sample size of its final responses): flagged by the command's summary and in the
    report's eff. points column; E[D] is not."""
    extra = """
[expectations]
budget = 600
moments = [1, 60]
"""
    study = write(tmp_path, extra)
    code, out, err = run_cli(["run", study, "--store", str(tmp_path / "s.sqlite"),
                              "--no-progress", "--report", str(tmp_path / "r.html")], capsys)
    assert code == 0, err
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  E[")}
    assert lines["E[D^60]"].endswith("! fewer than 100 effective points: not to be trusted")
    assert "!" not in lines["E[D]"]
    html = (tmp_path / "r.html").read_text()
    assert "<th>eff. points</th>" in html or ">eff. points<" in html
    row = html[html.index("E[D^60]"):]
    row = row[:row.index("</tr>")]
    assert "⚠ few" in row
    first = html[html.index(">E[D]<"):]
    assert "⚠ few" not in first[:first.index("</tr>")]


# ---------------------------------------------------------------------- report
def test_report_from_store_and_from_results(tmp_path, capsys):
    study = write(tmp_path)
    store = tmp_path / "s.sqlite"
    assert main(["run", study, "--store", str(store), "--no-progress"]) == 0
    capsys.readouterr()
    code, _, err = run_cli(["report", str(store)], capsys)
    assert code == 0, err
    default = tmp_path / "s.report.html"
    assert default.exists()
    out = tmp_path / "r.html"
    code, _, err = run_cli(["report", str(tmp_path / "s.results.json"), "-o", str(out)], capsys)
    assert code == 0, err
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "data:image/png;base64," in page
    for needle in ("Settings", "Adaptation history", "Reproducibility", "E[D]", "P(D &gt; "
                   "0.08)"):
        assert needle in page
    # self-contained: nothing fetched, no script
    assert "http://" not in page and "https://" not in page and "<script" not in page


@pytest.mark.parametrize("make, pattern", [
    (lambda p: None, r"nope\.json: no such file$"),
    (lambda p: p.write_text("{}"), r"not a multiexpect results file \(expected format "
                                   r"'multiexpect-results/1'\)$"),
    (lambda p: p.write_text("{oops"), r"not a multiexpect results file"),
])
def test_report_errors(tmp_path, capsys, make, pattern):
    path = tmp_path / "nope.json"
    make(path)
    code, _, err = run_cli(["report", str(path)], capsys)
    assert_user_error(code, err, pattern)


def test_report_of_a_store_without_results(tmp_path, capsys):
    store = tmp_path / "x.sqlite"
    store.write_bytes(b"")
    code, _, err = run_cli(["report", str(store)], capsys)
    assert_user_error(code, err, r"no results file next to this store \(expected .*"
                                 r"x\.results\.json\); run 'multiexpect run' first$")


def test_user_strings_are_escaped_in_the_report(tmp_path, capsys):
    evil = "<script>alert(1)</script>"
    base = BASE.replace('name = "small"', f'name = "{evil}"').replace(
        'name = "w"', f'name = "{evil}"').replace('output_name = "D"',
                                                  'output_name = "<b>$Y$</b>"')
    study = write(tmp_path, base=base)
    assert main(["run", study, "--store", str(tmp_path / "s.sqlite"), "--no-progress",
                 "--report", str(tmp_path / "r.html")]) == 0
    capsys.readouterr()
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script" not in page and "<b>$Y" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;$Y$&lt;/b&gt;" in page


# ---------------------------------------------------------------------- demo and examples
@pytest.mark.xdist_group("demo")  # one worker runs the session's demo (conftest.demo_run)
def test_demo_writes_results_and_report(demo_run):
    code, stdout, err, out = demo_run  # the session's one demo run (conftest.py)
    assert code == 0, err
    for name in ("cantilever.toml", "cantilever.sqlite", "cantilever.results.json",
                 "report.html"):
        assert (out / name).exists(), name
    doc = json.loads((out / "cantilever.results.json").read_text())
    assert [a["kind"] for a in doc["analyses"]] == ["expectations", "exceedance_curve",
                                                    "sobol"]
    sobol = doc["analyses"][2]["main"]["result"]
    first = np.array(sobol["first_order"], dtype=float)
    se = np.array(sobol["first_order_stderr"], dtype=float)
    from multiexpect.testfunctions import CANTILEVER_FIRST_ORDER

    assert np.all(np.abs(first - CANTILEVER_FIRST_ORDER) < 4 * se + 1e-3)
    page = (out / "report.html").read_text()
    assert "Sobol&#x27; indices" in page and page.count("<img") >= 6
    assert 'alt="exceedance curve"' in page and "q(0.0001)" in stdout
    assert "E[D]" in stdout


def test_demo_out_must_be_a_folder(tmp_path, capsys):
    path = tmp_path / "file"
    path.write_text("x")
    code, _, err = run_cli(["demo", "--out", str(path)], capsys)
    assert_user_error(code, err, r"--out: .*file exists and is not a folder$")


@pytest.mark.parametrize("name", ["moments_exceedance", "alternative_laws", "sobol_ishigami",
                                  "perturbed_laws", "command_model", "exceedance_curve"])
def test_example_studies_are_valid(name):
    study = load_study(str(EXAMPLES / f"{name}.toml"))
    dry_run(study)  # every analysis's arguments pass the library's checks
    assert study.analyses


def test_command_model_study_runs_through_the_program(tmp_path, capsys):
    (tmp_path / "sim.py").write_text(textwrap.dedent("""
        import json, sys
        v = json.load(open(sys.argv[1]))
        open(sys.argv[2], "w").write(repr(v["a"] + 2.0 * v["b"]))
    """))
    (tmp_path / "cmd.toml").write_text(textwrap.dedent("""
        [study]
        name = "command"
        seed = 1
        [model]
        command = ["{python}", "{study_dir}/sim.py", "{input}", "{output}"]
        timeout = 60
        [[inputs]]
        name = "a"
        dist = "norm"
        [[inputs]]
        name = "b"
        dist = "norm"
        params = { loc = 1.0 }
        [expectations]
        budget = 12
        moments = [1]
        method = "mc"
    """))
    code, _, err = run_cli(["run", str(tmp_path / "cmd.toml"), "--store",
                            str(tmp_path / "c.sqlite"), "--no-progress"], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "c.results.json").read_text())
    row = doc["analyses"][0]["main"]["rows"][0]
    assert doc["analyses"][0]["main"]["runs"]["new"] == 12
    assert abs(row["estimate"] - 2.0) < 4 * row["stderr"]  # E[a + 2 b] = 2, sd sqrt(5)


SHARED = """
[run]
share_runs = {share}

[expectations]
budget = 600
moments = [1]
baseline = "mc"

[exceedance_curve]
budget = 600
from = 0.04
to = 0.08
points = 3
baseline = "mc"
"""


def test_analyses_read_the_points_another_analysis_ran(tmp_path, capsys):
    docs = {}
    for share in ("true", "false"):
        study = write(tmp_path, SHARED.format(share=share), name=f"{share}.toml")
        store = str(tmp_path / f"{share}.sqlite")
        code, _, err = run_cli(["run", study, "--store", store, "--no-progress"], capsys)
        assert code == 0, err
        docs[share] = json.loads((tmp_path / f"{share}.results.json").read_text())
    shared, alone = (docs[s]["analyses"] for s in ("true", "false"))
    # the curve's crude MC baseline draws the expectations baseline's 600 points, and the
    # curve's aISCV pilot the expectations aISCV's pilot: read, not run, the results equal
    assert shared[1]["baseline"]["runs"] == {"spent": 600, "new": 0, "reused": 600}
    assert alone[1]["baseline"]["runs"] == {"spent": 600, "new": 600, "reused": 0}
    assert shared[1]["main"]["runs"]["reused"] > 0 == alone[1]["main"]["runs"]["reused"]
    for a, b in zip(shared, alone):
        for role in ("main", "baseline"):
            assert a[role]["result"]["estimate"] == b[role]["result"]["estimate"]
            assert a[role]["result"]["stderr"] == b[role]["result"]["stderr"]
