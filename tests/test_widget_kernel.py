"""explore() in a real ipykernel: cells run in its asyncio loop, the job's writes land on the main
thread between cells, and re-running a cell (same ``cellId``, as JupyterLab sends) closes the
widget its earlier run made."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

jupyter_client = pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")

REPO = Path(__file__).resolve().parent.parent

SETUP = textwrap.dedent(
    """
    import threading, numpy as np, torch
    from PIL import Image
    from ncut_widget import explore
    from ncut_widget.features.backbones import Backbone

    class Pool(Backbone):
        name, patch_size = "pool", 8
        def features(self, x, layers):
            p = torch.nn.functional.avg_pool2d(x, 8)
            return torch.cat([p, p * p, p.sin(), p.cos()], 1).permute(0, 2, 3, 1)
        def to(self, device):
            return self

    rng = np.random.default_rng(0)
    photos = [Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)) for _ in range(2)]
    writers, made = set(), []
    """
)
EXPLORE = textwrap.dedent(
    """
    w = explore(photos, resolutions=(32, 64), backbone=Pool(), n_eig=6, color="pca")
    w.observe(lambda change: writers.add(threading.current_thread().name), names=["stage", "meta"])
    made.append(w)
    """
)


class Kernel:
    def __init__(self) -> None:
        self.manager, self.client = jupyter_client.manager.start_new_kernel(
            kernel_name="python3", cwd=str(REPO)
        )

    def run(self, code: str, cell_id: str | None = None) -> str:
        """Execute ``code`` as a cell (with JupyterLab's ``cellId`` metadata); return its stdout."""
        client = self.client
        msg = client.session.msg(
            "execute_request",
            {"code": code, "silent": False, "store_history": True, "user_expressions": {},
             "allow_stdin": False, "stop_on_error": True},
        )
        if cell_id is not None:
            msg["metadata"]["cellId"] = cell_id
        client.shell_channel.send(msg)
        out, errors = [], []
        while True:
            reply = client.get_iopub_msg(timeout=120)
            if reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                continue
            kind, content = reply["msg_type"], reply["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                errors.append("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                break
        assert not errors, errors[0]
        return "".join(out)

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel():
    k = Kernel()
    try:
        k.run(SETUP)
        yield k
    finally:
        k.close()


def _poll_stage(kernel: Kernel, name: str) -> str:
    # Each poll is its own cell: between cells the kernel's loop applies the job's writes.
    for _ in range(600):
        stage = kernel.run(f"print({name}.stage)").strip()
        if stage in ("Done", "Failed", "Cancelled"):
            return stage
    return stage


def test_in_a_cell_the_kernel_loop_applies_the_jobs_writes_on_the_main_thread(kernel: Kernel):
    assert kernel.run("import asyncio; print(asyncio.get_running_loop() is not None)").strip() == "True"
    kernel.run(EXPLORE, cell_id="cell-a")
    assert _poll_stage(kernel, "made[0]") == "Done"  # no wait(): nothing on this thread applied them
    assert kernel.run("print(sorted(writers), made[0].meta['n_nodes'])").strip() == "['MainThread'] 160"


def test_rerunning_the_cell_closes_its_earlier_widget(kernel: Kernel):
    kernel.run(EXPLORE, cell_id="cell-b")
    kernel.run(EXPLORE, cell_id="cell-b")  # the same cell again: a new request, the same cellId
    assert _poll_stage(kernel, "made[-1]") == "Done"
    state = kernel.run("print(made[-2].comm is None, made[-2].meta, made[-1].comm is None)").strip()
    assert state == "True {} False"
    kernel.run("w2 = explore(photos, resolutions=(32,), backbone=Pool(), n_eig=6, color='pca')",
               cell_id="cell-c")  # another cell
    assert kernel.run("print(made[-1].comm is None)").strip() == "False"
