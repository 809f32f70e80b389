"""nbgrader preprocessors used by the course's ``nbgrader_config.py`` (run inside nbgrader, not kernels).

``ScrubHiddenTestTracebacks`` (feedback): nbgrader's ``ClearHiddenTests`` removes the hidden-tests
block from a test cell's source, but the error output still holds IPython's traceback, whose frame
shows the failing line and its neighbours, i.e. the hidden tests. This replaces every traceback
line that shows a hidden-test line (or a marker) by ``(hidden test)``. It must run before
``ClearHiddenTests``, while the cell still has its hidden block.
"""

import re

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ScrubHiddenTestTracebacks(NbGraderPreprocessor):
    begin = Unicode("BEGIN HIDDEN TESTS").tag(config=True)
    end = Unicode("END HIDDEN TESTS").tag(config=True)

    def _hidden_lines(self, source):
        hidden, inside = [], False
        for line in source.splitlines():
            if self.begin in line:
                inside = True
                hidden.append(line.strip())
            elif self.end in line:
                inside = False
                hidden.append(line.strip())
            elif inside and line.strip():
                hidden.append(line.strip())
        return hidden

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or self.begin not in cell.source:
            return cell, resources
        hidden = self._hidden_lines(cell.source)
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            scrubbed = []
            for entry in out.get("traceback", []):
                lines = []
                for line in entry.split("\n"):
                    plain = _ANSI.sub("", line)
                    if any(h and h in plain for h in hidden):
                        prefix = re.match(r"\s*(-*>)?\s*\d*", plain).group(0)
                        lines.append(f"{prefix} (hidden test)")
                    else:
                        lines.append(line)
                scrubbed.append("\n".join(lines))
            out["traceback"] = scrubbed
            if any(h and h in out.get("evalue", "") for h in hidden):
                out["evalue"] = "(a hidden test failed)"
        return cell, resources


# ---------------------------------------------------------------------------------------------
# Autograde execution with the kernel in the sandbox (see autograder/sandbox.py, autograder/verdict.py).

from nbclient.exceptions import CellTimeoutError, DeadKernelError  # noqa: E402
from nbformat.notebooknode import NotebookNode  # noqa: E402
from nbgrader.preprocessors import Execute  # noqa: E402
from nbclient.client import NotebookClient  # noqa: E402
from nbclient.util import ensure_async, run_sync  # noqa: E402
from traitlets import Integer  # noqa: E402

NOT_RUN = "NotRun"


def _error(ename, evalue):
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class SandboxedExecute(Execute):
    """nbgrader's ``Execute`` for kernels that run in the sandbox, with faults confined to a cell.

    - A catalogue-graded test cell (only ``grade(...)`` calls) is sent to the kernel as those calls
      without comments (``verdict.collect_source``): the kernel never sees the cell's hidden-tests
      block as written. The notebook keeps the cell's source.
    - The kernel dies in a cell (``os._exit``, a crash, a kill, memory, CPU time): that cell gets an
      error output, a new kernel is started, the code cells that ran before (except test cells) are
      run again silently, and execution goes on with the next cell. At most ``max_restarts`` times.
    - A cell times out: the kernel is interrupted (a message on its control channel); if it does not
      answer within ``probe_timeout`` seconds afterwards, it is treated as dead as above. An endless
      loop therefore costs one cell timeout, never a second run of the notebook.
    """

    max_restarts = Integer(4).tag(config=True)
    probe_timeout = Integer(3).tag(config=True)
    stall_grace = Integer(5).tag(config=True)

    async def _async_poll_for_reply(self, msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive):
        """nbclient's wait for the execute reply, except once the kernel has said it is idle for this
        cell (on iopub). The kernel sends the reply before that, yet with 2 jobs at once about 1
        notebook in 12 waited for it until a timeout: the shell socket's wait had missed a message
        that was already there (asking the socket directly finds it). So after 0.1 s we ask the
        socket ourselves; a reply that truly never comes costs ``stall_grace`` seconds, not the
        whole cell timeout."""
        import asyncio
        from queue import Empty

        from jupyter_core.utils import ensure_async

        poll = super()._async_poll_for_reply(msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive)
        reply = asyncio.ensure_future(poll)
        while not reply.done():
            await asyncio.wait({reply}, timeout=0.1)
            if reply.done() or not task_poll_output_msg.done() or task_poll_output_msg.cancelled() \
                    or task_poll_output_msg.exception() is not None:
                continue
            done, _ = await asyncio.wait({reply}, timeout=0.1)
            if done:
                continue
            # The reply is sent before the idle status. When it has not come, the shell socket's wait
            # has usually missed a message that is already there: cancel that wait and ask the socket.
            reply.cancel()
            await asyncio.wait({reply})
            if not reply.cancelled():  # it got the reply after all
                return reply.result()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.stall_grace
            while loop.time() < deadline:
                try:
                    msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=0.2))
                except Empty:
                    continue
                if msg["parent_header"].get("msg_id") == msg_id:
                    task_poll_kernel_alive.cancel()
                    self.log.info("the kernel's reply was waiting on the socket")
                    return msg
            task_poll_kernel_alive.cancel()
            self.log.warning("the kernel went idle but its reply never came: went on after %s s",
                             self.stall_grace)
            return {"parent_header": {"msg_id": msg_id}, "header": {}, "metadata": {},
                    "content": {"status": "ok", "execution_count": None}}
        return reply.result()

    def _plan(self):
        from autograder.verdict import collect_source, grade_calls

        plan = {}
        for index, cell in enumerate(self.nb.cells):
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and meta.get("grade") and grade_calls(cell.source):
                plan[index] = collect_source(cell.source)
        return plan

    def _run_cell(self, cell, resources, index, plan):
        if index in plan:
            original = cell.source
            cell.source = plan[index]
            try:
                self.preprocess_cell(cell, resources, index)
            finally:
                cell.source = original
        else:
            self.preprocess_cell(cell, resources, index)

    async def _async_responsive(self) -> bool:
        import time

        try:
            msg_id = self.kc.kernel_info()
            deadline = time.monotonic() + self.probe_timeout
            while time.monotonic() < deadline:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=max(0.1, deadline - time.monotonic())))
                if msg.get("parent_header", {}).get("msg_id") == msg_id:
                    return True
        except Exception:  # noqa: BLE001 - Empty (no answer), a dead kernel...
            return False
        return False

    _responsive = run_sync(_async_responsive)

    def _timed_out(self, cell) -> bool:
        return any(o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError"
                   for o in cell.get("outputs", []))

    def _replay(self, ran: list, resources) -> bool:
        """Run the cells in ``ran`` again (outputs discarded). False if one of them killed the kernel
        or hung (it is then removed from ``ran``)."""
        for j in list(ran):
            replay = NotebookNode(dict(self.nb.cells[j]))
            replay["outputs"] = []
            replay["metadata"] = NotebookNode(dict(self.nb.cells[j].metadata))
            try:
                self.preprocess_cell(replay, resources, j)
            except (DeadKernelError, CellTimeoutError):
                ran.remove(j)
                return False
            if self._timed_out(replay) and not self._responsive():
                ran.remove(j)
                return False
        return True

    def preprocess(self, nb, resources=None, km=None):
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        plan = self._plan()
        cells = self.nb.cells
        start, ran, restarts = 0, [], 0
        while start < len(cells) and restarts <= self.max_restarts:
            failed_at = None
            with self.setup_kernel():
                info = self.wait_for_reply(self.kc.kernel_info())
                if info:
                    self.nb.metadata["language_info"] = info["content"]["language_info"]
                if not self._replay(ran, resources):
                    restarts += 1  # a cell that ran fine the first time killed the new kernel: dropped
                    continue
                for index in range(start, len(cells)):
                    cell = cells[index]
                    try:
                        self._run_cell(cell, resources, index, plan)
                    except (DeadKernelError, CellTimeoutError) as exc:
                        what = ("the kernel died while running this cell (os._exit, a crash, a kill, or "
                                "over the memory or CPU limit)" if isinstance(exc, DeadKernelError)
                                else "this cell did not finish in time and its kernel stopped answering")
                        cell.outputs.append(_error("DeadKernelError", what + "; grading went on with the "
                                                   "next cell in a fresh kernel"))
                        failed_at = index
                        break
                    if self._timed_out(cell) and not self._responsive():
                        cell.outputs.append(_error("DeadKernelError", "the kernel stopped answering after this "
                                                   "cell timed out; grading went on in a fresh kernel"))
                        failed_at = index
                        break
                    if cell.cell_type == "code" and index not in plan and not \
                            cell.metadata.get("nbgrader", {}).get("grade"):
                        ran.append(index)
            if failed_at is None:
                start = len(cells)
            else:
                start = failed_at + 1
                restarts += 1
        for cell in cells[start:]:
            if cell.cell_type == "code" and cell.source.strip():
                cell.outputs = [_error(NOT_RUN, "not run: the kernel died too many times")]
        self.set_widgets_metadata()
        return self.nb, self.resources
