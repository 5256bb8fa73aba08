"""The HTML report in a real browser: headless Debian Chromium, network disabled.

* the report loads without any console message (it has no script, so any message would be
  the browser complaining: a blocked fetch, a CSP violation, a broken resource);
* every image decodes (a copy of the report with a probe script records
  ``img.naturalWidth`` of each image into the DOM, read back with ``--dump-dom``);
* a screenshot is not blank (pixel variance, share of non-white pixels);
* a study and an input named ``<script>alert(1)</script>`` appear as text, and never run:
  the probe replaces ``window.alert`` and the page's Content-Security-Policy is removed from
  the probe copy, so escaping alone is what is tested.

``scripts/test.sh`` installs the ``chromium`` package when ``/usr/bin/chromium`` is missing.
"""

from __future__ import annotations

import os
import re
import subprocess
import textwrap

import numpy as np
import pytest

from multiexpect.cli.main import main

CHROMIUM = "/usr/bin/chromium"
EVIL = "<script>alert(1)</script>"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="needs Debian chromium (scripts/test.sh installs it)")

STUDY = f"""
[study]
name = "{EVIL} beam"
description = "Report rendered in a headless browser."
seed = 8

[model]
python = "multiexpect.testfunctions:ishigami"

[[inputs]]
name = "x1"
dist = "uniform"
params = {{ loc = -3.141592653589793, scale = 6.283185307179586 }}

[[inputs]]
name = "{EVIL}"
dist = "uniform"
params = {{ loc = -3.141592653589793, scale = 6.283185307179586 }}

[[inputs]]
name = "x3"
dist = "uniform"
params = {{ loc = -3.141592653589793, scale = 6.283185307179586 }}

[expectations]
budget = 1000
moments = [1, 2]
exceedance = [10.0]
baseline = "mc"

[exceedance_curve]
budget = 1000
from = 5.0
to = 15.0
points = 6
quantiles = [1e-2]
baseline = "mc"

[sobol]
budget = 2500
baseline = "pick-freeze"
"""

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--proxy-server=127.0.0.1:9",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0"]

PROBE = """<script>
window.alert = function () { document.documentElement.setAttribute("data-alerted", "1"); };
window.addEventListener("load", function () {
  var widths = [];
  document.querySelectorAll("img").forEach(function (img) {
    widths.push(img.complete && img.naturalWidth > 0 ? img.naturalWidth : 0);
  });
  document.body.setAttribute("data-image-widths", widths.join(","));
});
</script>"""


def chromium(tmp_path, url: str, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, url],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    study = folder / "study.toml"
    study.write_text(textwrap.dedent(STUDY), encoding="utf-8")
    html = folder / "report.html"
    code = main(["run", str(study), "--store", str(folder / "s.sqlite"), "--no-progress",
                 "--report", str(html)])
    assert code == 0
    return html


def test_report_is_self_contained(report):
    page = report.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//)", page)
    assert "url(" not in page and "@import" not in page and "<link" not in page
    assert "<script" not in page  # the report has no script at all
    # estimates, adaptation history; exceedance curve, its adaptation history; Sobol' bars,
    # adaptation history of the Sobol' engine
    assert page.count("<img") == 6
    assert 'alt="exceedance curve"' in page
    assert page.count('src="data:image/png;base64,') == page.count("<img")


def test_report_loads_without_console_messages(report, tmp_path):
    proc = chromium(tmp_path, report.as_uri(), "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    assert "Reproducibility" in proc.stdout  # the page was really rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt; beam" in proc.stdout


def test_every_image_decodes_and_user_script_never_runs(report, tmp_path):
    page = report.read_text(encoding="utf-8")
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    proc = chromium(tmp_path, probe.as_uri(), "--dump-dom", "--virtual-time-budget=10000")
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    widths = re.search(r'data-image-widths="([0-9,]*)"', dom)
    assert widths is not None, dom[:500]
    values = [int(v) for v in widths.group(1).split(",")]
    assert len(values) == page.count("<img")
    assert all(v > 100 for v in values), values
    assert re.search(r"<html[^>]*data-alerted", dom) is None
    assert EVIL not in dom  # never parsed as an element
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert dom.count("<script") == 1  # the probe only


def test_screenshot_is_not_blank(report, tmp_path):
    from matplotlib import image

    shot = tmp_path / "shot.png"
    proc = chromium(tmp_path, report.as_uri(), f"--screenshot={shot}",
                    "--window-size=1200,2000", "--hide-scrollbars")
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    pixels = image.imread(str(shot))[..., :3]
    assert pixels.shape[:2] == (2000, 1200)
    grey = pixels.mean(axis=2)
    assert float(np.std(grey)) > 0.05
    assert float(np.mean(grey < 0.9)) > 0.02  # text, tables and plots, not a white page
