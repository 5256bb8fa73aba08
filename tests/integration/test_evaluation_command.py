"""CommandModel: an external program per point, through argv, never through a shell."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time

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
    # a placeholder that is no input's name and not reserved would reach the program as
    # text, and the study run on: refused before any run (a shell's ${name} is left alone)
    with pytest.raises(ValueError, match=r"'argv' uses the placeholder \{nosuch\}"):
        me.CommandModel(["sim", "{a}", "{nosuch}"], names=["a", "b"])
    with pytest.raises(ValueError, match=r"the placeholder \{A\}"):
        me.CommandModel(["sim", "{A}", "{input}"], names=["a", "b"])
    me.CommandModel(["bash", "-c", "echo ${HOME} {a} {workdir}"], names=["a", "b"])


def test_a_study_input_named_like_a_study_placeholder_is_refused(tmp_path):
    """``{python}`` and ``{study_dir}`` are replaced before the program's placeholders: an
    input named ``python`` would have received the interpreter's path, not its value."""
    from multiexpect.cli.study import StudyError, load_model, load_study

    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent("""
        [study]
        name = "p"
        seed = 1
        [model]
        command = ["{python}", "sim.py", "{input}", "{output}"]
        [[inputs]]
        name = "python"
        dist = "norm"
        [expectations]
        budget = 100
        moments = [1]
    """))
    with pytest.raises(StudyError, match=r"inputs\[0\]\.name: an input of a command model may "
                                         r"not be named 'python'"):
        load_model(load_study(str(path)))


# ---------------------------------------------------------------------- hardening (issue 15)
WRITE = textwrap.dedent("""
    import json, sys
    a = json.load(open(sys.argv[1]))["a"]
    open(sys.argv[2], "w").write({expr})
""")


def _writer(tmp_path, name, expr):
    script = tmp_path / name
    script.write_text(WRITE.format(expr=expr))
    return script


def test_two_programs_never_share_stored_runs(tmp_path):
    """The identity is the whole argv and the script's content, not ``argv[-1]``."""
    one = _writer(tmp_path, "one.py", "repr(a)")
    two = _writer(tmp_path, "two.py", "repr(a + 100.0)")
    m1 = me.CommandModel([sys.executable, str(one), "{input}", "{output}"], names=["a"])
    m2 = me.CommandModel([sys.executable, str(two), "{input}", "{output}"], names=["a"])
    assert m1.name != m2.name
    law = me.Law([stats.norm()])
    store = tmp_path / "s.sqlite"
    r1 = me.expectations(m1, law, budget=6, method="mc", rng=1, store=store)
    r2 = me.expectations(m2, law, budget=6, method="mc", rng=1, store=store)
    np.testing.assert_allclose(r2.estimate, r1.estimate + 100.0)
    # the same argv with an edited script is another model too
    before = m1.name
    one.write_text(WRITE.format(expr="repr(2 * a)"))
    edited = me.CommandModel([sys.executable, str(one), "{input}", "{output}"], names=["a"])
    assert edited.name != before
    again = me.CommandModel([sys.executable, str(one), "{input}", "{output}"], names=["a"])
    assert again.name == edited.name  # and the identity is stable


@pytest.mark.parametrize("text, expected", [
    ("1.5 2.5", [1.5, 2.5]), ("1.5\n2.5\n", [1.5, 2.5]), ("\t1e3  ", [1000.0]),
    ("[1.5, 2]", [1.5, 2.0]), ("42", [42.0]),
])
def test_read_outputs_whitespace_lines_or_json(text, expected):
    from multiexpect.evaluation.command import read_outputs

    np.testing.assert_array_equal(read_outputs(text), expected)


@pytest.mark.parametrize("text, pattern", [
    ("10,397", r"'10,397' is not a number .*comma"),
    ("1, 2", r"'1,' is not a number"),
    ("", "is empty"),
    ("[1, \"a\"]", "must be a JSON list of numbers"),
    ("[1, 2", "is not a JSON list"),
])
def test_read_outputs_refuses_ambiguous_text(text, pattern):
    from multiexpect.evaluation.command import read_outputs

    with pytest.raises(ValueError, match=pattern):
        read_outputs(text)


def test_decimal_comma_fails_the_point_not_two_outputs(tmp_path):
    script = _writer(tmp_path, "comma.py", "'10,397'")
    model = me.CommandModel([sys.executable, str(script), "{input}", "{output}"],
                            names=["a"], keep="none")
    _, ok, errors, _ = model.run_points(np.array([[0.5]]))
    assert not ok[0] and "'10,397' is not a number" in errors[0]
    # a count other than the expected one fails the point
    two = _writer(tmp_path, "two.py", "'1 2'")
    model = me.CommandModel([sys.executable, str(two), "{input}", "{output}"], names=["a"],
                            keep="none")
    _, ok, errors, _ = model.run_points(np.array([[0.5]]), n_outputs=1)
    assert not ok[0] and "holds 2 numbers, 1 expected" in errors[0]


def _alive(token: str) -> list[int]:
    """PIDs of live processes whose command line holds ``token`` (Linux /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read()
            with open(f"/proc/{entry}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if token.encode() in cmd and state != "Z":
            pids.append(int(entry))
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_timeout_kills_the_whole_process_group(tmp_path):
    token = f"{25 + os.getpid() % 1000 / 1000:.3f}"  # a sleep no other test runs
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(textwrap.dedent(f"""
        import subprocess
        procs = [subprocess.Popen(["sleep", "{token}"]) for _ in range(2)]
        for p in procs:
            p.wait()
    """))
    model = me.CommandModel([sys.executable, str(wrapper), "{input}", "{output}"],
                            names=["a"], timeout=1.0, keep="none")
    y, error, seconds = model.run_point(np.array([0.0]))
    assert y is None and error.startswith("timed out after 1.0 s")
    assert seconds < 10
    deadline = time.monotonic() + 5
    while _alive(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _alive(token) == []  # the wrapper's solvers died with it


def test_timeout_and_workdir_are_checked_at_construction(tmp_path):
    for bad in (1e308, float("inf"), float("nan"), True):
        with pytest.raises(ValueError, match="'timeout' must be a positive number"):
            me.CommandModel(["sim"], timeout=bad)
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ValueError, match=r"'workdir' must be a folder, but .*afile is a file"):
        me.CommandModel(["sim"], workdir=afile)


def test_relative_program_and_script_resolved_against_the_callers_directory(tmp_path,
                                                                             monkeypatch):
    program = tmp_path / "simulate"
    program.write_text(f"#!{sys.executable}\n" + WRITE.format(expr="repr(3 * a)"))
    program.chmod(0o755)
    _writer(tmp_path, "sim.py", "repr(a + 1)")
    monkeypatch.chdir(tmp_path)
    direct = me.CommandModel(["./simulate", "{input}", "{output}"], names=["a"],
                             workdir=tmp_path / "runs")
    script = me.CommandModel([sys.executable, "sim.py", "{input}", "{output}"], names=["a"],
                             workdir=tmp_path / "runs")
    monkeypatch.chdir(tmp_path / "..")  # resolved at construction, not at run time
    np.testing.assert_array_equal(direct(np.array([[2.0]])), [[6.0]])
    np.testing.assert_array_equal(script(np.array([[2.0]])), [[3.0]])


def test_an_input_named_like_a_placeholder_is_refused():
    for name in ("input", "output", "workdir"):
        with pytest.raises(ValueError, match=rf"'names': an input may not be named '{name}'"):
            me.CommandModel(["sim", "{input}"], names=["a", name])


def test_a_placeholder_inside_a_value_is_not_replaced_again(tmp_path):
    # the working directory's path holds "{a}": replaced in one pass, it stays literal
    echo = tmp_path / "echo.py"
    echo.write_text("import sys\nopen(sys.argv[2], 'w').write(str(len(sys.argv[1])))\n")
    model = me.CommandModel([sys.executable, str(echo), "{workdir}", "{output}"],
                            names=["a"], workdir=tmp_path / "w{a}", keep="all")
    model.run_point(np.array([1.0]))
    (kept,) = (tmp_path / "w{a}").iterdir()
    assert (kept / "outputs.txt").read_text() == str(len(str(kept)))


def test_huge_output_keeps_a_bounded_tail(tmp_path):
    import tracemalloc

    noisy = tmp_path / "noisy.py"
    noisy.write_text(textwrap.dedent("""
        import sys
        block = b"x" * (1 << 20)
        for _ in range(60):
            sys.stdout.buffer.write(block)
            sys.stderr.buffer.write(block)
        sys.stderr.write("THE END")
        sys.exit(4)
    """))
    model = me.CommandModel([sys.executable, str(noisy)], names=["a"], keep="none")
    tracemalloc.start()
    try:
        y, error, _ = model.run_point(np.array([0.0]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert y is None and error.startswith("exit status 4: ") and error.endswith("THE END")
    assert len(error) < 600
    assert peak < 8 * (1 << 20)  # 120 MB written, a few MB held at most
