"""The environment `make` sets up: what `make demo` relies on beyond the Python packages."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_jupyterlab_bundled_yarn_runs_inside_the_repo_venv():
    # The repo's package.json declares "type": "module" and .venv sits under it: unless the venv
    # has a package.json of its own, Node loads jupyter_builder's yarn.js as an ES module and
    # every JupyterLab start prints "Fail to get yarn configuration" with a stack trace.
    venv = ROOT / ".venv"
    if Path(sys.prefix).resolve() != venv.resolve():
        pytest.skip("not running in the repo's .venv (the one `make` sets up)")
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    yarn = next(Path(sys.prefix).glob("lib/python*/site-packages/jupyter_builder/yarn.js"), None)
    if yarn is None:
        pytest.skip("this JupyterLab does not bundle jupyter_builder's yarn.js")
    out = subprocess.run([node, str(yarn), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip()[:1].isdigit(), out.stdout
