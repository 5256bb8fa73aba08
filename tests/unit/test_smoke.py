
import multiexpect as me
from tests.conftest import GAUSSIAN_MOMENTS, gaussian_moments
from tests.helpers import within_four_sigma


def test_aiscv_gaussian_moments_within_four_standard_errors(normal_law):
    res = me.expectations(gaussian_moments, normal_law, budget=4000, rng=3)
    assert res.n_evaluations <= 4000
    assert within_four_sigma(res, GAUSSIAN_MOMENTS)


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    """The README's code is run as a user would paste it, blocks in order in one namespace
    (``__name__ == "__main__"``: the process-pool, store-writing example runs too)."""
    import re
    from pathlib import Path

    readme = Path(__file__).resolve().parents[2] / "README.md"
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(), flags=re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "readme_blocks.py"
    script.write_text("\n".join(blocks))
    import runpy

    runpy.run_path(str(script), run_name="__main__")
    assert (tmp_path / "study.sqlite").stat().st_size > 0
