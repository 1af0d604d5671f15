"""Full-precision float32 matrix products inside the engine, whatever the session asked for.

A notebook often lowers torch's float32 matmul precision for training:
``torch.backends.cuda.matmul.allow_tf32 = True``, ``torch.set_float32_matmul_precision("high")``
(TF32 on a GPU: 10-bit mantissas) or ``"medium"`` (on a CPU with AMX or AVX-512 BF16, oneDNN then
runs float32 products in bfloat16: 8 bits). The engine's float32 products cannot take that: the
eigensolver stops on residuals of 1e-5 of the largest eigenvalue, which products rounded to 2^-11
never reach (it would run to ``eig_max_iter`` and warn), and the scan's float32 re-rank exists to
undo bfloat16 rounding. The engine asks for bfloat16 explicitly where it wants it (``scan_dtype``).

:func:`ieee_float32` sets every backend that lowers float32 products (cuBLAS, oneDNN) to
``"ieee"`` for the duration of an engine call, and cuBLAS's bfloat16 products to sum in float32
(``allow_bf16_reduced_precision_reduction``, on by default), then puts back exactly what it
found. It writes through torch's per-backend ``fp32_precision`` setting (torch >= 2.9): restored
through the same setting, the state reads back as before through every API, the legacy
``allow_tf32`` and ``get_float32_matmul_precision()`` included (restored through those instead,
a session that had used the other API was left with getters that raise, in torch 2.14). Older
torch: ``set_float32_matmul_precision`` and ``allow_tf32``. A backend already at full precision
is not written.

These settings are process-wide: other threads' products during an engine call run at full
precision too (only ever more precise than they asked). :func:`no_autocast` turns
``torch.autocast`` off inside engine calls as well (that state is per thread). torch's default
dtype, process-wide too, is left alone: the engine names the dtype of every tensor it makes
(under a float64 default its random draws, and so its anchors, used to differ).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, NamedTuple, TypeVar

import torch

F = TypeVar("F", bound=Callable[..., Any])
# Device types whose autocast no_autocast turns off where it is on.
AUTOCAST_DEVICES = ("cpu", "cuda", "mps", "xpu")


class Control(NamedTuple):
    """One setting that lowers float32 products: how to read it, write it, and its full-precision
    value. ``full`` also accepts the values that mean full precision already."""

    name: str
    get: Callable[[], Any]
    set: Callable[[Any], None]
    ieee: Any
    full: tuple[Any, ...]


def _attr_control(name: str, owner: Any) -> Control:
    # "none" defers to torch.backends.fp32_precision, the global default ("ieee" unless set).
    def get() -> Any:
        own = owner.fp32_precision
        return own if own != "none" else f"none:{torch.backends.fp32_precision}"

    def put(value: Any) -> None:
        owner.fp32_precision = value.split(":", 1)[0] if isinstance(value, str) else value

    return Control(name, get, put, "ieee", ("ieee", "none:ieee", "none:none"))


def _flag_control(name: str) -> Control:
    """A boolean flag of ``torch.backends.cuda.matmul``; ``False`` is full precision."""
    matmul = torch.backends.cuda.matmul

    def put(value: Any) -> None:
        setattr(matmul, name, value)

    return Control(f"torch.backends.cuda.matmul.{name}", lambda: getattr(matmul, name), put, False, (False,))


def controls() -> list[Control]:
    """The settings this torch has that lower the engine's matrix products (see the module doc)."""
    matmul = torch.backends.cuda.matmul
    # cuBLAS may sum a bfloat16 product's split-K partial sums in bfloat16 (on by default): the
    # engine's explicit bfloat16 products (the scans) are meant to accumulate in float32.
    reduction = _flag_control("allow_bf16_reduced_precision_reduction")
    if hasattr(matmul, "fp32_precision") and hasattr(torch.backends, "fp32_precision"):
        return [
            _attr_control("torch.backends.cuda.matmul.fp32_precision", matmul),
            _attr_control("torch.backends.mkldnn.matmul.fp32_precision", torch.backends.mkldnn.matmul),
            reduction,
        ]
    return [  # torch < 2.9: the global precision (cuBLAS and oneDNN alike) and cuBLAS's own flag
        Control("torch.get_float32_matmul_precision()", torch.get_float32_matmul_precision,
                torch.set_float32_matmul_precision, "highest", ("highest",)),
        _flag_control("allow_tf32"),
        reduction,
    ]


@contextmanager
def ieee_float32(settings: list[Control] | None = None) -> Iterator[None]:
    """Within the block, float32 matrix products run in full float32 on every backend; after it
    (also on an exception), each setting it changed is put back as it was. ``settings``: the
    controls to hold (default :func:`controls`). A setting this build of torch cannot read or
    write (a backend it was built without) is left alone: it cannot lower anything here."""
    changed: list[tuple[Control, Any]] = []
    try:
        for control in controls() if settings is None else settings:
            try:
                before = control.get()
                if before in control.full:
                    continue
                control.set(control.ieee)
            except (AttributeError, RuntimeError):
                continue
            changed.append((control, before))
        yield
    finally:
        for control, before in reversed(changed):
            control.set(before)


def _autocast_enabled(device_type: str) -> bool:
    try:
        return bool(torch.is_autocast_enabled(device_type))
    except (TypeError, RuntimeError):  # torch < 2.4 takes no device type; an unknown one raises
        if device_type == "cpu":
            return torch.is_autocast_cpu_enabled()
        return device_type == "cuda" and torch.is_autocast_enabled()


@contextmanager
def no_autocast() -> Iterator[None]:
    """Within the block, autocast is off on every device type it is on for (it is per thread).
    Under ``torch.autocast`` a float32 product comes back in bfloat16 or float16: the engine's
    own would lose their precision, and arrays handed to numpy would have a dtype it lacks (a
    fit inside ``torch.autocast("cpu")`` stopped with ``Got unsupported ScalarType BFloat16``)."""
    with ExitStack() as stack:
        for device_type in AUTOCAST_DEVICES:
            if _autocast_enabled(device_type):
                stack.enter_context(torch.autocast(device_type, enabled=False))
        yield


def full_float32(method: F) -> F:
    """Decorator: run ``method`` inside :func:`ieee_float32` and :func:`no_autocast`."""

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        with ieee_float32(), no_autocast():
            return method(*args, **kwargs)

    return run  # type: ignore[return-value]
