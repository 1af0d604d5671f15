"""Read and write the notebook kernel's state from the test, beside the browser.

The browser owns the kernel (it started it by opening the notebook). We attach a second client to the
same kernel over ZMQ through the connection file the server wrote in its runtime dir, and evaluate
expressions with ``user_expressions``: no notebook cells to insert, no output DOM to scrape.
"""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Callable
from typing import Any

from jupyter_client import BlockingKernelClient

from ._servers import JupyterServer


class KernelProbe:
    """Evaluates Python in the notebook's kernel and returns JSON-decoded values."""

    def __init__(self, server: JupyterServer, notebook: str, timeout: float = 60.0) -> None:
        kernel_id = _kernel_for(server, notebook, timeout)
        self.client = BlockingKernelClient(connection_file=str(server.runtime_dir / f"kernel-{kernel_id}.json"))
        self.client.load_connection_file()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=timeout)
        self.run("import json as _json")

    def close(self) -> None:
        self.client.stop_channels()

    def run(self, code: str, timeout: float = 120.0) -> None:
        """Execute statements; raise with the kernel's traceback if they fail."""
        self._execute(code, {}, timeout)

    def eval(self, expr: str, timeout: float = 120.0) -> Any:
        """The value of a JSON-serializable expression in the kernel."""
        reply = self._execute("", {"out": f"_json.dumps({expr})"}, timeout)
        out = reply["user_expressions"]["out"]
        if out["status"] != "ok":
            raise AssertionError(f"{expr!r} failed in the kernel: {out.get('ename')}: {out.get('evalue')}")
        return json.loads(ast.literal_eval(out["data"]["text/plain"]))

    def wait_for(self, expr: str, predicate: Callable[[Any], bool], timeout: float = 30.0) -> Any:
        """Poll ``expr`` until ``predicate(value)``; on timeout fail with the last value seen."""
        deadline = time.monotonic() + timeout
        value = self.eval(expr)
        while not predicate(value):
            if time.monotonic() > deadline:
                raise AssertionError(f"kernel: {expr} stayed {value!r} for {timeout} s")
            time.sleep(0.25)
            value = self.eval(expr)
        return value

    def _execute(self, code: str, expressions: dict[str, str], timeout: float) -> dict:
        msg_id = self.client.execute(code, silent=True, store_history=False, user_expressions=expressions)
        deadline = time.monotonic() + timeout
        while True:
            msg = self.client.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") == msg_id:
                content = msg["content"]
                if content["status"] != "ok":
                    raise AssertionError(f"kernel error in {code!r}: {content.get('ename')}: {content.get('evalue')}")
                return content


def _kernel_for(server: JupyterServer, notebook: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        for session in server.api("sessions"):  # type: ignore[union-attr]
            if session.get("path", "").endswith(notebook) and session.get("kernel"):
                kernel_id = session["kernel"]["id"]
                if (server.runtime_dir / f"kernel-{kernel_id}.json").exists():
                    return kernel_id
        if time.monotonic() > deadline:
            raise AssertionError(f"no kernel session for {notebook} after {timeout} s")
        time.sleep(0.3)
