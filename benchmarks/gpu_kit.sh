#!/usr/bin/env bash
# The GPU checks of issue 12 as one prepared run on a borrowed CUDA machine whose python3 holds
# torch (and numpy, scipy, scikit-learn, scikit-image, pytest) but none of this package's other
# dependencies, and which reaches no package index.
#
#   bash benchmarks/gpu_kit.sh prepare   # here: wheels the GPU machine lacks, into .whl/ (git-ignored)
#   bash benchmarks/gpu_kit.sh run       # there, carrying .whl and ncut_widget/static (the built bundle)
#
# `run` installs the wheels into /tmp/site, then writes under $OUT (default /tmp/gpu-kit):
#   env.txt       the GPU (nvidia-smi), torch and its CUDA;
#   gpu.txt       benchmarks/gpu.py: Ncut(n_eig=50) at 1,000,000 x 768 per stage, tsne_color at 1M,
#                 closeness to the exact path on a 25,600-node subsample;
#   tests.txt     every CUDA instance of the engine, colouring, k-way, segment and model tests.
# It exits non-zero when any of them failed. Each step has its own time limit, so the whole run fits
# one 10-minute device command.
set -u
cd "$(dirname "$0")/.."
# The .venv's versions, but fpsample: 1.0.2 has no binary wheels (built from source here), 0.3.3 is
# the newest with CPython 3.12 ones and picks the same anchors (checked on 20,000 x 64 rows).
WHEELS="fpsample==0.3.3 anywidget==0.11.0 psygnal==0.16.1 traitlets==5.16.1 platformdirs==4.14.9"
PY_VERSION=${PY_VERSION:-3.12}  # the GPU machine's python3

case "${1:-}" in
prepare)
    rm -rf .whl && mkdir -p .whl
    # shellcheck disable=SC2086
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PY_VERSION" \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl $WHEELS || exit 1
    [ -f ncut_widget/static/widget.js ] || { echo "build the frontend first (make demo or npm run build)"; exit 1; }
    ls .whl
    ;;
run)
    out=${OUT:-/tmp/gpu-kit}
    mkdir -p "$out"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
    {
        nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
        python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
    } 2>&1 | tee "$out/env.txt"
    status=0
    timeout 300 python3 benchmarks/gpu.py --reps 3 2>&1 | tee "$out/gpu.txt"
    [ "${PIPESTATUS[0]}" = 0 ] || status=1
    # -k cuda: the device-parametrized instances only (their CPU twins run in CI); 8 workers
    # where pytest-xdist is installed (the GPU machine's image has it).
    workers=$(python3 -c "import xdist" 2>/dev/null && echo "-n 8")
    # shellcheck disable=SC2086
    timeout 240 python3 -m pytest -q -p no:cacheprovider $workers -k cuda --timeout 200 \
        tests/test_engine_*.py tests/test_color_*.py tests/test_kway.py tests/test_segments.py \
        tests/test_scale_models.py 2>&1 | tee "$out/tests.txt"
    [ "${PIPESTATUS[0]}" = 0 ] || status=1
    exit $status
    ;;
*)
    echo "usage: bash benchmarks/gpu_kit.sh prepare|run" >&2
    exit 2
    ;;
esac
