"""The memory guard: budgets, where available memory comes from, and refusals that say what fits.

``NCUT_WIDGET_MEMORY_BUDGET`` pins the budget, so these tests behave the same on any machine; the
two subprocess tests also measure that a refusal comes fast and before any large allocation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types

import pytest
import torch

from ncut_widget.color import tsne_color
from ncut_widget.color.tsne import tsne_bytes
from ncut_widget.engine import memory
from ncut_widget.engine import ncut as ncut_module
from ncut_widget.engine.exact import storage_dtype
from ncut_widget.engine.memory import (
    FALLBACK_AVAILABLE,
    MemoryBudgetError,
    check_memory,
    format_bytes,
    largest_fitting,
    memory_budget,
)
from ncut_widget.engine.ncut import Ncut, nystrom_fit_bytes
from ncut_widget.engine.ncut import exact_fit_bytes as _exact_fit_bytes


def storage_name(n: int, device: str = "cpu") -> str:
    """The dtype Ncut keeps ``n`` nodes' exact affinities in here (float16 from BF16_MIN_NODES
    under "auto", or where NCUT_WIDGET_SCAN forces bfloat16), as its messages name it."""
    return str(storage_dtype(n, device, None)).removeprefix("torch.")


def exact_fit_bytes(n: int, c: int, k: int, device: str = "cpu") -> int:
    """``ncut.exact_fit_bytes`` for the storage Ncut picks for ``n`` nodes on ``device``."""
    return _exact_fit_bytes(n, c, k, storage_dtype(n, device, None))


@pytest.fixture
def no_budget_env(monkeypatch):
    monkeypatch.delenv("NCUT_WIDGET_MEMORY_BUDGET", raising=False)


@pytest.fixture
def fixed_system(monkeypatch, no_budget_env):
    """A machine with exactly 10 GB available and no cgroup limit."""
    monkeypatch.setattr(memory, "_meminfo_available", lambda: 10_000_000_000)
    monkeypatch.setattr(memory, "_cgroup_available", lambda: None)


# ---------------------------------------------------------------- the budget
def test_budget_is_half_of_what_is_available(fixed_system):
    budget, why = memory_budget("cpu")
    assert budget == 5_000_000_000
    assert "half of the 10.0 GB available on cpu (MemAvailable in /proc/meminfo)" in why
    assert "NCUT_WIDGET_MEMORY_BUDGET" in why  # says how to change it


@pytest.mark.parametrize("raw, expected", [("8e9", 8_000_000_000), ("123456", 123456), (" 1.5e3 ", 1500)])
def test_env_var_replaces_the_budget(fixed_system, monkeypatch, raw, expected):
    monkeypatch.setenv("NCUT_WIDGET_MEMORY_BUDGET", raw)
    budget, why = memory_budget("cpu")
    assert budget == expected and why == f"NCUT_WIDGET_MEMORY_BUDGET={raw.strip()}"


@pytest.mark.parametrize("raw", ["lots", "-5", "0", "inf", "nan"])
def test_bad_env_var_names_it(monkeypatch, raw):
    monkeypatch.setenv("NCUT_WIDGET_MEMORY_BUDGET", raw)
    with pytest.raises(ValueError, match="NCUT_WIDGET_MEMORY_BUDGET must be a positive number of bytes"):
        memory_budget("cpu")


def test_proc_meminfo_is_read_where_present():
    if not os.path.exists("/proc/meminfo"):
        assert memory._meminfo_available() is None
        return
    with open("/proc/meminfo") as f:
        total = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemTotal:"))
    avail = memory._meminfo_available()
    assert avail is not None and 0 < avail <= total


def test_psutil_then_a_documented_fallback(monkeypatch):
    monkeypatch.setattr(memory, "_meminfo_available", lambda: None)
    monkeypatch.setattr(memory, "_cgroup_available", lambda: None)
    fake = types.SimpleNamespace(virtual_memory=lambda: types.SimpleNamespace(available=1234))
    monkeypatch.setitem(sys.modules, "psutil", fake)
    assert memory.system_available() == (1234, "psutil")
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil -> ImportError
    avail, source = memory.system_available()
    assert avail == FALLBACK_AVAILABLE == 8 << 30 and source.startswith("assumed")


def test_cgroup_limit_caps_available_memory(tmp_path, monkeypatch):
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "memory.max").write_text("1000000\n")
    (v2 / "memory.current").write_text("600000\n")
    (v2 / "memory.stat").write_text("anon 400000\ninactive_file 100000\n")
    monkeypatch.setattr(memory, "_CGROUP_V2", v2)
    monkeypatch.setattr(memory, "_CGROUP_V1", tmp_path / "absent")
    monkeypatch.setattr(memory, "_meminfo_available", lambda: 10_000_000_000)
    # limit - (usage - reclaimable page cache) = 1e6 - (6e5 - 1e5)
    assert memory.system_available() == (500_000, "the cgroup memory limit")
    (v2 / "memory.max").write_text("max\n")  # no limit: MemAvailable stands
    assert memory.system_available() == (10_000_000_000, "MemAvailable in /proc/meminfo")


def test_cgroup_v1_unlimited_is_ignored(tmp_path, monkeypatch):
    v1 = tmp_path / "memory"
    v1.mkdir()
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (v1 / "memory.usage_in_bytes").write_text("5000\n")
    monkeypatch.setattr(memory, "_CGROUP_V2", tmp_path / "absent")
    monkeypatch.setattr(memory, "_CGROUP_V1", v1)
    assert memory._cgroup_available() is None
    (v1 / "memory.limit_in_bytes").write_text("20000\n")
    assert memory._cgroup_available() == 15_000


def test_cuda_counts_free_plus_cached(monkeypatch):
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda dev: (3_000, 10_000))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda dev: 2_500)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda dev: 2_000)
    assert memory.available_bytes("cuda:0") == (3_500, "torch.cuda.mem_get_info")


def test_largest_fitting_and_format():
    assert largest_fitting(lambda n: n * n, 99, 1000) == 9
    assert largest_fitting(lambda n: n * n, 100, 1000) == 10
    assert largest_fitting(lambda n: n * n, 100, 5) == 5
    assert largest_fitting(lambda n: 50 + n, 10, 100) == 0
    assert format_bytes(14_400_000_000) == "14.4 GB" and format_bytes(512) == "512 B"


def test_check_memory_message(monkeypatch):
    monkeypatch.setenv("NCUT_WIDGET_MEMORY_BUDGET", "1e6")
    check_memory(1_000_000, "cpu", what="x", advice=lambda b: "unused")  # at the budget: fine
    with pytest.raises(MemoryBudgetError, match=r"^the step needs 2\.0 MB on cpu, more than the memory budget of 1\.0 MB \(NCUT_WIDGET_MEMORY_BUDGET=1e6\)\. Try 1000000\.$"):
        check_memory(2_000_000, "cpu", what="the step", advice=lambda b: f"Try {b}.")
    assert issubclass(MemoryBudgetError, ValueError)


# ---------------------------------------------------------------- Ncut
@pytest.fixture
def X() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(4, 16, generator=gen)[torch.arange(1500) % 4] * 3 + torch.randn(1500, 16, generator=gen)


def test_exact_fit_refuses_before_allocating_and_its_advice_fits(X, monkeypatch, device):
    budget = exact_fit_bytes(1200, 16, 5, device)  # room for the exact path on 1,200 nodes, not 1,500
    monkeypatch.setenv("NCUT_WIDGET_MEMORY_BUDGET", str(budget))
    built = []
    real = ncut_module.exact_affinity
    monkeypatch.setattr(ncut_module, "exact_affinity", lambda *a, **kw: built.append(1) or real(*a, **kw))
    with pytest.raises(MemoryBudgetError) as err:
        Ncut(n_eig=5, n_sample=5000, device=device).fit(X)
    msg = str(err.value)
    assert not built, "refused only after building the N x N matrix"
    name = storage_name(1500, device)
    assert f"the exact path (n_sample=5000 >= 1500 nodes: a dense 1500 x 1500 {name} affinity)" in msg
    assert f"needs {format_bytes(exact_fit_bytes(1500, 16, 5, device))}" in msg
    assert "The exact path fits up to 1200 nodes" in msg
    m_max = int(msg.split("n_sample <= ")[1].split(" ")[0])
    # The advice holds: both suggestions fit the same budget, one more node or anchor does not.
    Ncut(n_eig=5, n_sample=5000, device=device).fit(X[:1200])
    with pytest.raises(MemoryBudgetError):
        Ncut(n_eig=5, n_sample=5000, device=device).fit(X[:1201])
    assert 5 < m_max < 1500
    Ncut(n_eig=5, n_sample=m_max, device=device).fit(X)
    with pytest.raises(MemoryBudgetError, match=rf"the Nystrom path \({m_max + 1} anchors"):
        Ncut(n_eig=5, n_sample=m_max + 1, device=device).fit(X)
    assert built


def test_budget_override_accepts_or_refuses_a_small_exact_fit(X, monkeypatch, device):
    need = exact_fit_bytes(1500, 16, 5, device)
    monkeypatch.setenv("NCUT_WIDGET_MEMORY_BUDGET", str(need))
    assert Ncut(n_eig=5, n_sample=5000, device=device).fit(X).exact_
    monkeypatch.setenv("NCUT_WIDGET_MEMORY_BUDGET", str(need - 1))
    with pytest.raises(MemoryBudgetError, match="more than the memory budget"):
        Ncut(n_eig=5, n_sample=5000, device=device).fit(X)


def test_nystrom_bytes_cover_the_anchor_graph_and_the_scan():
    small = nystrom_fit_bytes(10_000, 64, 10, 1000, 2048)
    assert small >= 2 * 4 * 1000 * 1000  # the anchor affinities and the cell graph
    assert small >= 2048 * 1000 * 8  # one block of scores and their exponentials
    assert nystrom_fit_bytes(10_000, 64, 10, 2000, 2048) > small  # grows with anchors
    assert nystrom_fit_bytes(20_000, 64, 10, 1000, 2048) > small  # and linearly with nodes
    per_node = nystrom_fit_bytes(20_000, 64, 10, 1000, 2048) - small
    assert per_node == 10_000 * (4 * 64 + 16 + 4 * 10)  # features are prepared chunk by chunk


def test_too_small_for_any_path_says_so(X, monkeypatch, device):
    monkeypatch.setenv("NCUT_WIDGET_MEMORY_BUDGET", "1000")
    with pytest.raises(MemoryBudgetError, match="not even the Nystrom path fits"):
        Ncut(n_eig=5, n_sample=100, device=device).fit(X)


def test_exact_transform_chunk_is_checked(X, monkeypatch, device):
    model = Ncut(n_eig=5, n_sample=5000, chunk_size=1500, device=device).fit(X)
    monkeypatch.setenv("NCUT_WIDGET_MEMORY_BUDGET", str(8 * 1500 * 1500 - 1))
    with pytest.raises(MemoryBudgetError, match=r"transform on the exact path .*chunk_size <= 1499"):
        model.transform(X)
    model.chunk_size = 1499
    assert model.transform(X)[0].shape == (1500, 5)


# ---------------------------------------------------------------- t-SNE
def test_tsne_refuses_a_layout_over_the_budget_and_its_advice_fits(monkeypatch, device):
    # The budget comes from the environment here, so the same numbers hold on every device.
    eig = torch.randn(3000, 6, generator=torch.Generator().manual_seed(0)).to(device)
    need = tsne_bytes(3000, 6, 3000, 10, 10.0)
    monkeypatch.setenv("NCUT_WIDGET_MEMORY_BUDGET", str(need - 1))
    with pytest.raises(MemoryBudgetError, match=r"tsne_color on 3000 nodes \(3000 laid out by t-SNE\)") as err:
        tsne_color(eig, num_sample=10**9, device=device, n_iter=5)
    fits = int(str(err.value).rsplit("num_sample <= ", 1)[1].rstrip("."))
    assert 10 <= fits < 3000
    X_3d, _ = tsne_color(eig, num_sample=fits, device=device, n_iter=5)
    assert X_3d.shape == (3000, 3)


# ---------------------------------------------------------------- in a fresh process: fast, small
# One child process runs every refusal in turn (the budget variable is read at each call), and
# reports each one's message, duration and the process's peak RSS so far.
_REFUSALS = r"""
import json, os, resource, sys, time
import torch
from ncut_widget.color import tsne_color
from ncut_widget.engine.memory import MemoryBudgetError
from ncut_widget.engine.ncut import Ncut

def ncut_exact(n):
    X = torch.randn(n, 4, generator=torch.Generator().manual_seed(0))
    return lambda: Ncut(n_eig=10, n_sample=max(n, 100_000), device="cpu").fit(X)

def tsne(n):
    X = torch.randn(n, 4, generator=torch.Generator().manual_seed(0))
    return lambda: tsne_color(X, num_sample=10**9, device="cpu")

cases = {
    # 4 GB as on a machine with 8 GB free: pinned so the case is the same on every machine
    # (half of a large server's memory would allow the 7.5 GB fit, and run it).
    "exact_60000": ("4e9", ncut_exact(60_000)),
    # 10^6 nodes need a 4 TB dense matrix: refused whatever the detected budget is.
    "exact_1000000": (None, ncut_exact(1_000_000)),
    # t-SNE memory is linear (~2.5 KB per laid-out node): pinned low to refuse 300,000 nodes.
    "tsne_300000": ("2e8", tsne(300_000)),
}
def peak_rss():
    # Linux: VmHWM, this process image's own peak (exec resets it). Not ru_maxrss, which a child
    # inherits from the pytest process that forked it (2 GB late in a full run).
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # bytes on macOS, KiB elsewhere

out = {}
for name, (budget, call) in cases.items():
    os.environ.pop("NCUT_WIDGET_MEMORY_BUDGET", None)
    if budget is not None:
        os.environ["NCUT_WIDGET_MEMORY_BUDGET"] = budget
    start = time.perf_counter()
    try:
        call()
        msg = None
    except MemoryBudgetError as err:
        msg = str(err)
    out[name] = {"msg": msg, "seconds": time.perf_counter() - start, "peak_rss": peak_rss()}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def refusals() -> dict:
    pytest.importorskip("resource")
    env = {k: v for k, v in os.environ.items() if k != "NCUT_WIDGET_MEMORY_BUDGET"}
    env["OMP_NUM_THREADS"] = "1"
    out = subprocess.run([sys.executable, "-c", _REFUSALS], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_60000_node_exact_fit_is_refused_fast_and_small(refusals):
    res = refusals["exact_60000"]
    msg = res["msg"]
    assert msg is not None, "the 60,000-node exact fit was not refused"
    need = exact_fit_bytes(60_000, 4, 10)
    largest = largest_fitting(lambda n: exact_fit_bytes(n, 4, 10), 4_000_000_000, 60_000)
    assert f"a dense 60000 x 60000 {storage_name(60_000)} affinity) needs {format_bytes(need)} on cpu" in msg
    assert "memory budget of 4.0 GB (NCUT_WIDGET_MEMORY_BUDGET=4e9)" in msg
    assert f"The exact path fits up to {largest} nodes" in msg and "n_sample <= " in msg
    assert res["seconds"] < 5, res
    assert res["peak_rss"] < 2e9, res


def test_exact_fit_beyond_any_machine_is_refused_with_the_detected_budget(refusals):
    res = refusals["exact_1000000"]
    msg = res["msg"]
    assert msg is not None and f"a dense 1000000 x 1000000 {storage_name(10**6)} affinity) needs" in msg
    assert "available on cpu" in msg and "set NCUT_WIDGET_MEMORY_BUDGET=<bytes> to change it" in msg
    assert res["seconds"] < 5 and res["peak_rss"] < 2e9, res


def test_too_large_tsne_is_refused_fast_and_small(refusals):
    res = refusals["tsne_300000"]
    msg = res["msg"]
    assert msg is not None and "tsne_color on 300000 nodes (300000 laid out by t-SNE)" in msg
    assert "Use num_sample <= " in msg
    assert res["seconds"] < 5 and res["peak_rss"] < 2e9, res
