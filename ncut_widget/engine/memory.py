"""The memory guard: refuse a large allocation before making it, saying what would fit.

Every allocation that grows faster than the input (the exact path's dense ``N x N`` affinity and
its eigensolver buffers, the Nystrom anchor graph ``m x m``, the ``chunk_size x m`` scan blocks,
the t-SNE layout's working set) is sized first and passed to :func:`check_memory`.

The budget on a device is, in this order:

* ``NCUT_WIDGET_MEMORY_BUDGET`` (environment variable, read at every check): a number of bytes
  (``"8000000000"`` or ``"8e9"``), used as is -- it may exceed what is available;
* otherwise ``BUDGET_FRACTION`` (half) of the memory available on that device now. Half, because
  the estimates leave out small temporaries, the caller's own tensors keep growing, and other
  processes share the machine: running a machine out of memory kills the kernel (or the machine).

Available memory:

* CPU (and MPS, which shares system memory): ``MemAvailable`` from ``/proc/meminfo``, capped by a
  cgroup memory limit (v2 ``memory.max``, v1 ``memory.limit_in_bytes``) minus the cgroup's usage
  net of reclaimable page cache; where ``/proc/meminfo`` is missing, ``psutil``'s
  ``virtual_memory().available`` when psutil is installed; otherwise ``FALLBACK_AVAILABLE``
  (8 GiB, a small laptop's free memory), which the environment variable can override.
* CUDA: ``torch.cuda.mem_get_info``'s free bytes plus what torch's caching allocator holds but
  does not use (it hands that memory out again without asking the driver).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch

BUDGET_ENV = "NCUT_WIDGET_MEMORY_BUDGET"
BUDGET_FRACTION = 0.5
FALLBACK_AVAILABLE = 8 << 30
_CGROUP_V2 = Path("/sys/fs/cgroup")
_CGROUP_V1 = Path("/sys/fs/cgroup/memory")
# cgroup v1 reports "no limit" as a huge page-rounded number near 2**63.
_NO_LIMIT = 1 << 60


class MemoryBudgetError(ValueError):
    """An allocation would exceed the memory budget; the message says what would fit."""


def format_bytes(n: float) -> str:
    """``1.5e9 -> '1.5 GB'`` (decimal units, as ``free -h --si`` and the budget variable)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _stat_value(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                return int(value)
    except OSError:
        pass
    return 0


def _cgroup_available() -> int | None:
    """Bytes the cgroup limit still allows (``None`` without a limit). Page cache the kernel can
    reclaim (``inactive_file``) counts as free, as the kernel does before it OOM-kills."""
    for limit_file, usage_file, stat_key in (
        (_CGROUP_V2 / "memory.max", _CGROUP_V2 / "memory.current", "inactive_file"),
        (_CGROUP_V1 / "memory.limit_in_bytes", _CGROUP_V1 / "memory.usage_in_bytes", "total_inactive_file"),
    ):
        limit = _read_int(limit_file)  # None for v2's "max" (no limit) or a missing file
        usage = _read_int(usage_file)
        if limit is None or usage is None or limit >= _NO_LIMIT:
            continue
        cache = _stat_value(limit_file.parent / "memory.stat", stat_key)
        return max(0, limit - max(0, usage - cache))
    return None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def system_available() -> tuple[int, str]:
    """``(bytes, where the figure came from)`` of system memory available now (see module doc)."""
    avail = _meminfo_available()
    source = "MemAvailable in /proc/meminfo"
    if avail is None:
        try:
            import psutil
        except ImportError:
            return FALLBACK_AVAILABLE, "assumed (no /proc/meminfo, no psutil)"
        avail, source = int(psutil.virtual_memory().available), "psutil"
    cg = _cgroup_available()
    if cg is not None and cg < avail:
        return cg, "the cgroup memory limit"
    return avail, source


def available_bytes(device: torch.device | str) -> tuple[int, str]:
    """``(bytes, source)``: memory available on ``device`` now (see the module doc)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        free, _ = torch.cuda.mem_get_info(dev)
        cached = torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev)
        return int(free + max(0, cached)), "torch.cuda.mem_get_info"
    return system_available()


def memory_budget(device: torch.device | str) -> tuple[int, str]:
    """``(bytes, explanation)``: the most one step may allocate on ``device`` (see module doc).

    Raises:
        ValueError: ``NCUT_WIDGET_MEMORY_BUDGET`` is set but not a positive number of bytes.
    """
    raw = os.environ.get(BUDGET_ENV, "").strip()
    if raw:
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not value > 0 or value == float("inf"):
            raise ValueError(f"{BUDGET_ENV} must be a positive number of bytes (e.g. 8e9), got {raw!r}")
        return int(value), f"{BUDGET_ENV}={raw}"
    avail, source = available_bytes(device)
    budget = int(avail * BUDGET_FRACTION)
    dev = torch.device(device)
    return budget, (
        f"half of the {format_bytes(avail)} available on {dev.type} ({source}); "
        f"set {BUDGET_ENV}=<bytes> to change it"
    )


def largest_fitting(bytes_for: Callable[[int], int], budget: int, upper: int) -> int:
    """The largest ``n`` in ``[0, upper]`` with ``bytes_for(n) <= budget`` (``bytes_for`` must grow
    with ``n``); 0 when even ``n = 1`` does not fit."""
    lo, hi = 0, upper
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if bytes_for(mid) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def check_memory(
    nbytes: int,
    device: torch.device | str,
    *,
    what: str,
    advice: Callable[[int], str],
) -> None:
    """Raise :class:`MemoryBudgetError` when ``nbytes`` exceeds the budget on ``device``.

    Args:
        nbytes: the estimated peak of the step about to run.
        device: where it would allocate.
        what: the step, as the start of a sentence (``"the exact path on 60000 nodes"``).
        advice: called with the budget in bytes only when refusing; returns what would fit
            (``"use n_sample <= 40000"``).
    """
    budget, explanation = memory_budget(device)
    if nbytes <= budget:
        return
    raise MemoryBudgetError(
        f"{what} needs {format_bytes(nbytes)} on {torch.device(device)}, more than the memory "
        f"budget of {format_bytes(budget)} ({explanation}). {advice(budget)}"
    )
