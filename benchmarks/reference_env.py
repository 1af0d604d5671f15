"""The reference implementation's own virtualenv (ncut-pytorch 3.2.0), shared by the benchmarks.

Created on first use at benchmarks/.venv-ref (git-ignored) so the reference never touches .venv.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REF_VENV = Path(__file__).resolve().parent / ".venv-ref"
REF_PY = REF_VENV / "bin" / "python"
REF_SPEC = ["ncut-pytorch==3.2.0", "torch==2.14.1"]


def ensure_reference_env() -> Path:
    """Create the reference venv when missing; return its python."""
    if not REF_PY.exists():
        print(f"creating {REF_VENV} with {' '.join(REF_SPEC)} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(REF_VENV)], check=True)
        subprocess.run([str(REF_PY), "-m", "pip", "install", "--quiet", *REF_SPEC], check=True)
    return REF_PY
