"""The ``multiexpect`` command against careless or hostile input (issue 15): each mistake
is one line on standard error, exit 2, before any model run where the study file tells;
stored runs stay usable after correcting what does not change them; an edited model is
refused; the study's folder never shadows installed modules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import multiexpect
from multiexpect.cli.main import main

SRC = Path(multiexpect.__file__).resolve().parents[1]   # the package under test

STUDY = """
[study]
name = "h"
seed = 3

[model]
python = "{python}"
{model_extra}

[[inputs]]
name = "a"
dist = "{dist}"

[[inputs]]
name = "b"
dist = "norm"
params = {{ loc = 1.0, scale = 0.5 }}

{analysis}
"""

EXPECT = """
[expectations]
budget = 300
moments = [1]
exceedance = [1.0]
"""

LOCAL_MODEL = """
import numpy as np


def f(x):
    return np.column_stack([x[:, 0] + 2.0 * x[:, 1], x[:, 0] * x[:, 1]])
"""


def write(tmp_path, analysis=EXPECT, python="models:f", model_extra="", dist="norm",
          name="study.toml") -> str:
    if python.startswith("models:") and not (tmp_path / "models.py").exists():
        (tmp_path / "models.py").write_text(LOCAL_MODEL)
    path = tmp_path / name
    path.write_text(textwrap.dedent(STUDY.format(python=python, model_extra=model_extra,
                                                 dist=dist, analysis=analysis)))
    return str(path)


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, pattern):
    import re

    assert code == 2, err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("multiexpect: error")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert re.search(pattern, lines[0]), lines[0]


def results(store) -> dict:
    return json.loads(Path(str(store).removesuffix(".sqlite") + ".results.json").read_text())


@pytest.fixture(autouse=True)
def _forget_local_models():
    """Each test writes its own ``models.py``: forget the one imported before."""
    yield
    sys.modules.pop("models", None)
    sys.path[:] = [p for p in sys.path if "pytest-of" not in p]


# ---------------------------------------------------------------------- 3: an edited model
def test_edited_model_is_refused_and_accepted_deliberately(tmp_path, capsys):
    study, store = write(tmp_path), str(tmp_path / "s.sqlite")
    assert run(["run", study, "--store", store, "--no-progress"], capsys)[0] == 0
    first = results(store)["analyses"][0]["main"]["rows"][0]["estimate"]
    (tmp_path / "models.py").write_text(LOCAL_MODEL.replace("2.0 * x", "7.0 * x"))
    sys.modules.pop("models", None)
    code, _, err = run(["run", study, "--store", store, "--no-progress"], capsys)
    one_line_error(code, err, r"--store: .*s\.sqlite holds runs of 'h/expectations/aiscv' "
                              r"made by another version of the model's code: .*"
                              r"--accept-model-change")
    # a comment-only change, deliberately accepted: every run read back, same estimate
    (tmp_path / "models.py").write_text(LOCAL_MODEL + "\n# a comment\n")
    sys.modules.pop("models", None)
    code, _, err = run(["run", study, "--store", store, "--no-progress",
                        "--accept-model-change"], capsys)
    assert code == 0, err
    main_rec = results(store)["analyses"][0]["main"]
    assert main_rec["runs"]["new"] == 0 and main_rec["rows"][0]["estimate"] == first


# ---------------------------------------------------------------------- 10: mistakes found early
def test_weights_of_the_wrong_length_are_refused_before_any_run(tmp_path, capsys):
    study = write(tmp_path, analysis=EXPECT + "weights = [1.0, 2.0, 3.0]\n")
    store = tmp_path / "s.sqlite"
    code, _, err = run(["run", study, "--store", str(store), "--no-progress"], capsys)
    one_line_error(code, err, r"expectations\.weights: must have 2 entries \(one per "
                              r"quantity\), got 3$")
    assert not store.exists()


def test_correcting_output_column_names_and_weights_keeps_the_runs(tmp_path, capsys):
    store = str(tmp_path / "s.sqlite")
    study = write(tmp_path, model_extra="output = 2")
    code, _, err = run(["run", study, "--store", store, "--no-progress"], capsys)
    one_line_error(code, err, r"model\.output is 2 but the model returned 2 column")
    study = write(tmp_path, model_extra='output = 1\noutput_name = "Z"')
    code, _, err = run(["run", study, "--store", store, "--no-progress"], capsys)
    assert code == 0, err
    assert results(store)["analyses"][0]["main"]["runs"]["reused"] > 0
    # names and weights do not change the runs of crude MC: everything is read back
    mc = EXPECT + 'method = "mc"\n'
    write(tmp_path, analysis=mc, model_extra="output = 1")
    assert run(["run", study, "--store", store, "--no-progress"], capsys)[0] == 0
    write(tmp_path, analysis=mc + "weights = [2.0, 1.0]\n",
          model_extra='output = 1\noutput_name = "W"')
    code, _, err = run(["run", study, "--store", store, "--no-progress"], capsys)
    assert code == 0, err
    assert results(store)["analyses"][0]["main"]["runs"]["new"] == 0


# ---------------------------------------------------------------------- 11: output paths
def test_output_paths_are_checked_resolved_before_any_run(tmp_path, capsys):
    study = write(tmp_path)
    (tmp_path / "folder").mkdir()
    code, _, err = run(["run", study, "--store", str(tmp_path / "s.sqlite"), "--no-progress",
                        "--report", str(tmp_path / "folder")], capsys)
    one_line_error(code, err, r"--report: .*folder is a folder; give a file name$")
    through = os.path.join(str(tmp_path), "missing", "..", "s.sqlite")
    code, _, err = run(["run", study, "--store", through, "--no-progress"], capsys)
    one_line_error(code, err, r"--store: folder .*missing/\.\. does not exist$")
    assert not (tmp_path / "s.sqlite").exists()
    # the study's own run.store is named as such, and an empty one is refused
    with open(study, "a") as fh:
        fh.write(f'\n[run]\nstore = "{tmp_path / "folder"}"\n')
    code, _, err = run(["run", study, "--no-progress"], capsys)
    one_line_error(code, err, r"run\.store: .*folder is a folder; give a file name$")
    with open(study) as fh:
        text = fh.read().replace(f'store = "{tmp_path / "folder"}"', 'store = ""')
    with open(study, "w") as fh:
        fh.write(text)
    code, _, err = run(["run", study, "--no-progress"], capsys)
    one_line_error(code, err, r"run\.store: must be a file name, got an empty string")


# ---------------------------------------------------------------------- 12: sys.path
def test_study_folder_never_shadows_installed_modules(tmp_path):
    """A ``matplotlib.py`` beside a study (built-in model) must not run when the report is
    drawn; a local model still loads, and the folder is not first on sys.path."""
    (tmp_path / "matplotlib.py").write_text(
        "import pathlib\npathlib.Path(__file__).with_name('PWNED').write_text('x')\n"
        "raise SystemExit('shadowed')\n")
    study = write(tmp_path, python="multiexpect.testfunctions:ishigami",
                  analysis=EXPECT.replace("budget = 300", "budget = 60"))
    study = Path(study)
    study.write_text(study.read_text().replace(
        '[[inputs]]\nname = "b"', '[[inputs]]\nname = "c"\ndist = "norm"\n\n'
        '[[inputs]]\nname = "b"'))
    env = dict(os.environ, PYTHONPATH=str(SRC))
    proc = subprocess.run([sys.executable, "-m", "multiexpect.cli.main", "run", str(study),
                           "--store", str(tmp_path / "s.sqlite"), "--no-progress",
                           "--report", str(tmp_path / "r.html")],
                          cwd=str(tmp_path.parent), env=env, capture_output=True, text=True,
                          timeout=300)
    if "matplotlib" in proc.stderr and "pip install" in proc.stderr:
        pytest.skip("matplotlib is not installed")
    assert not (tmp_path / "PWNED").exists(), proc.stderr
    assert proc.returncode == 0, proc.stderr


def test_local_model_loads_without_prepending_the_study_folder(tmp_path, capsys):
    from multiexpect.cli.study import load_study

    before = list(sys.path)
    study = load_study(write(tmp_path))
    assert sys.path[:len(before)] == before   # nothing put in front
    assert study.model_code                   # the module file's hash


# ---------------------------------------------------------------------- 5 and 16
def test_repeated_or_indistinct_thresholds(tmp_path, capsys):
    study = write(tmp_path, analysis=EXPECT.replace("[1.0]", "[1.0, 1.0]"))
    code, _, err = run(["run", study, "--store", str(tmp_path / "s.sqlite")], capsys)
    one_line_error(code, err, r"expectations\.exceedance: has repeats: 1\.0$")
    study = write(tmp_path, analysis=EXPECT.replace("[1.0]", "[1.0000001, 1.0000002]")
                  .replace("budget = 300", "budget = 100") + 'method = "mc"\n')
    code, _, err = run(["run", study, "--store", str(tmp_path / "s.sqlite"),
                        "--no-progress"], capsys)
    assert code == 0, err
    names = [r["name"] for r in results(tmp_path / "s.sqlite")["analyses"][0]["main"]["rows"]]
    assert names == ["E[Y]", "P(Y > 1.0000001)", "P(Y > 1.0000002)"]


def test_overflowing_moment_is_an_error_not_a_nan(tmp_path, capsys):
    study = write(tmp_path, analysis=EXPECT.replace("moments = [1]", "moments = [400]")
                  .replace("budget = 300", "budget = 100") + 'method = "mc"\n')
    code, _, err = run(["run", study, "--store", str(tmp_path / "s.sqlite"),
                        "--no-progress"], capsys)
    one_line_error(code, err, r"moments: Y\^400 = .* at the model output Y = .*: beyond "
                              r"1\.34e\+154 its variance overflows")


def test_heavy_tailed_output_is_flagged(tmp_path, capsys):
    analysis = EXPECT.replace("budget = 300", "budget = 2000") + 'method = "mc"\n'
    study = write(tmp_path, dist="cauchy", analysis=analysis)
    code, _, err = run(["run", study, "--store", str(tmp_path / "s.sqlite"),
                        "--no-progress"], capsys)
    assert code == 0, err
    assert "multiexpect: warning: expectations by mc: E[Y]: the outputs' tail looks heavy" \
        in err, err
    study = write(tmp_path, analysis=analysis, name="light.toml")
    code, _, err = run(["run", study, "--store", str(tmp_path / "l.sqlite"),
                        "--no-progress"], capsys)
    assert code == 0 and "warning" not in err, err


@pytest.mark.parametrize("analysis, dist, pattern", [
    (EXPECT + 'options = { pilot_size = "x" }\n', "norm",
     r"expectations\.options\.pilot_size: must be an integer, got a string$"),
    ("[perturbed]\nbudget = 300\n", "cauchy",
     r"perturbed\.inputs: input 'a' \(scipy\.stats\.cauchy\) has no finite mean"),
])
def test_study_file_mistakes_before_any_run(tmp_path, capsys, analysis, dist, pattern):
    study = write(tmp_path, analysis=analysis, dist=dist)
    store = tmp_path / "s.sqlite"
    code, _, err = run(["run", study, "--store", str(store), "--no-progress"], capsys)
    one_line_error(code, err, pattern)
    assert not store.exists()


def test_model_module_exiting_at_import(tmp_path, capsys):
    (tmp_path / "models.py").write_text("import sys\nsys.exit(3)\n")
    code, _, err = run(["run", write(tmp_path), "--no-progress"], capsys)
    one_line_error(code, err, r"model\.python: importing 'models' raised SystemExit: 3$")


def test_constant_model_in_sobol_is_reported_clearly(tmp_path, capsys):
    (tmp_path / "models.py").write_text("import numpy as np\n\ndef f(x):\n"
                                        "    return np.ones(len(x))\n")
    study = write(tmp_path, analysis="[sobol]\nbudget = 400\n")
    code, _, err = run(["run", study, "--store", str(tmp_path / "s.sqlite"),
                        "--no-progress"], capsys)
    one_line_error(code, err, r"sobol: the model's output is 1 at every one of the \d+ runs: "
                              r"its variance is zero")


def test_degenerate_law_in_a_study_file(tmp_path, capsys):
    study = Path(write(tmp_path))
    study.write_text(study.read_text().replace("scale = 0.5", "scale = 1e308"))
    code, _, err = run(["run", str(study), "--no-progress"], capsys)
    one_line_error(code, err, r"inputs\[1\]\.params: scipy\.stats\.norm .*quantiles overflow")


# ---------------------------------------------------------------------- 13: tampered results
ATTACK = '<meta http-equiv="refresh" content="0; url=https://example.com/">'


@pytest.fixture(scope="module")
def finished_results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("finished")
    study = write(folder, python="multiexpect.testfunctions:ishigami",
                  analysis=EXPECT.replace("budget = 300", "budget = 80") + 'method = "mc"\n')
    Path(study).write_text(Path(study).read_text().replace(
        '[[inputs]]\nname = "b"', '[[inputs]]\nname = "c"\ndist = "norm"\n\n'
        '[[inputs]]\nname = "b"'))
    assert main(["run", study, "--store", str(folder / "s.sqlite"), "--no-progress"]) == 0
    return json.loads((folder / "s.results.json").read_text())


@pytest.mark.parametrize("tamper, pattern", [
    (lambda d: d["reproducibility"]["model_runs"].update(spent=ATTACK),
     r"reproducibility\.model_runs\.spent: must be an integer$"),
    (lambda d: d["analyses"][0]["main"].update(seconds=ATTACK),
     r"analyses\[0\]\.main\.seconds: must be a number$"),
    (lambda d: d["analyses"][0]["main"]["runs"].update(new=[ATTACK]),
     r"analyses\[0\]\.main\.runs\.new: must be an integer$"),
    (lambda d: d.update(analyses=3), r"analyses: must be an array$"),
    (lambda d: d["analyses"][0]["main"].pop("rows"), r"analyses\[0\]\.main\.rows: missing$"),
    (lambda d: d["analyses"][0]["main"]["result"].update(estimate={"x": 1}),
     r"analyses\[0\]\.main\.result: cannot be read back"),
    (lambda d: d.update(level="0.95"), r"level: must be a number between 0 and 1$"),
])
def test_tampered_results_are_refused_with_one_line(tmp_path, capsys, finished_results,
                                                    tamper, pattern):
    doc = json.loads(json.dumps(finished_results))
    tamper(doc)
    path = tmp_path / "t.results.json"
    path.write_text(json.dumps(doc))
    code, _, err = run(["report", str(path), "-o", str(tmp_path / "r.html")], capsys)
    one_line_error(code, err, r"t\.results\.json: not a valid results file: " + pattern)
    assert not (tmp_path / "r.html").exists()


def test_strings_from_a_results_file_are_escaped(tmp_path, capsys, finished_results):
    pytest.importorskip("matplotlib")
    doc = json.loads(json.dumps(finished_results))
    doc["reproducibility"]["versions"]["numpy"] = ATTACK
    doc["reproducibility"]["started"] = ATTACK
    doc["reproducibility"]["executor"] = ATTACK
    doc["analyses"][0]["main"]["rows"][0]["name"] = ATTACK
    doc["analyses"][0]["main"]["rows"][0]["estimate"] = "nan"
    path = tmp_path / "t.results.json"
    path.write_text(json.dumps(doc))
    code, _, err = run(["report", str(path), "-o", str(tmp_path / "r.html")], capsys)
    assert code == 0, err
    html = (tmp_path / "r.html").read_text()
    assert "<meta http-equiv=\"refresh\"" not in html and "http-equiv=&quot;refresh" in html


# ---------------------------------------------------------------------- 17: --seed, as documented
def test_another_seed_on_an_existing_store_is_refused_as_documented(tmp_path, capsys):
    study, store = write(tmp_path, analysis=EXPECT + 'method = "mc"\n'), str(tmp_path / "s.sqlite")
    assert run(["run", study, "--store", store, "--no-progress"], capsys)[0] == 0
    code, _, err = run(["run", study, "--store", store, "--no-progress", "--seed", "6"], capsys)
    one_line_error(code, err, r"--store: .*holds 'h/expectations/mc' with other settings "
                              r"\(seed: stored 3, now 6\)")
    docs = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    assert "a different seed is a different study, run it with\n  a new store" in docs
