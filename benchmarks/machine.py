"""What a benchmark ran on, for the header every result is printed under."""

from __future__ import annotations

import os
import platform


def cpu_description() -> str:
    """Model name and the vector/matrix extensions the kernel reports."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model in ("", platform.machine(), "x86_64"):
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    ext = [name for name, flag in (("AVX2", "avx2"), ("AVX-512", "avx512f"), ("AMX-BF16", "amx_bf16")) if flag in flags]
    return f"{model} ({os.cpu_count()} CPUs; {', '.join(ext) or 'no AVX2'})"
