"""``check``: run a notebook headless and report each graded exercise, as a student would see it.

The notebook is executed with nbclient (continuing past errors, a per-cell timeout), in its own
folder, and never written back. Each nbgrader cell with ``grade: true`` is then one row:

- passed: no error output (stderr is ignored, as in the course's autograding);
- failed: an error output; the reason is the first line of the exception's message;
- not attempted: the error is ``NotImplementedError`` (the release's stub) or an exception whose
  class is named ``NotAttempted`` (raised by ``autograder.checks``);
- not run: the kernel died before the cell (e.g. ``os._exit`` or out of memory);
- manual: a cell graded by hand (a written answer), not scored here.

Hidden cases are included, so the score is the one the grader would give (written answers aside):
the release's graded cells hold only the visible ``grade("name", f, ...)`` call (nbgrader removes
the hidden-tests block), but the hidden cases are drawn by the chapter's catalogue, which students
have; only the solution text is secret. So after a graded cell passes, its call is run again with
``hidden=True`` in the same kernel. A graded cell that calls no ``grade(...)`` (plain asserts) can
have hidden tests that cannot be known here: the table then says that those rows show visible
tests only.

Widgets are not shown: this run is headless, and nbclient, on a busy machine, sometimes waited a
whole cell timeout after a cell displaying an ipywidget (COURSE.md section 6). Before the first
cell, the kernel runs ``WIDGET_STUB``: widgets open no comm and display as one line of text. Their
Python side (callbacks, ``interactive``'s first call) still runs; nothing else in the notebook changes.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

NOT_ATTEMPTED = {"NotImplementedError", "NotAttempted"}

#: Run in the kernel before the notebook: ipywidgets open no comm and show as a line of text.
WIDGET_STUB = """\
def _autograder_check_stub_widgets():
    try:
        import ipywidgets
    except Exception:
        return
    ipywidgets.Widget.open = lambda self: None
    ipywidgets.Widget._repr_mimebundle_ = lambda self, **kwargs: {
        "text/plain": f"[{type(self).__name__}: widgets are not shown by python -m autograder check]"}
_autograder_check_stub_widgets()
del _autograder_check_stub_widgets
"""

GRADE_CALL = re.compile(r"""^([ \t]*)grade\(\s*(["'])(\w+)\2\s*,([^()\n]*)\)[ \t]*$""", re.M)


def hidden_calls(source: str) -> str | None:
    """The hidden-cases calls of a graded cell: each visible ``grade("name", ...)`` again with
    ``hidden=True``. None if the cell already has them (the solution notebook) or calls no grade."""
    if "hidden=True" in source:
        return None
    calls = [f'grade("{m.group(3)}",{m.group(4)}, hidden=True)' for m in GRADE_CALL.finditer(source)
             if "hidden" not in m.group(4)]
    return "\n".join(calls) if calls else None


@dataclass
class Row:
    grade_id: str
    points: float
    earned: float
    result: str  # passed / failed / not attempted / not run / manual
    reason: str = ""
    hidden: bool = True  # False: the cell's hidden tests (if any) are unknown here, visible tests only


def _fmt(x: float) -> str:
    return f"{x:g}"


def _first_line(text: str) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return ""


def classify(cell, ran: bool, died_at: int | None = None) -> Row:
    """The row for one graded cell (``cell`` after execution)."""
    meta = cell.metadata.get("nbgrader", {})
    gid = meta.get("grade_id", "?")
    points = float(meta.get("points", 0) or 0)
    if meta.get("solution") or cell.cell_type != "code":
        return Row(gid, points, 0.0, "manual", "graded by hand")
    if not ran:
        why = f"the kernel died in cell {died_at}" if died_at is not None else "not executed"
        return Row(gid, points, 0.0, "not run", why)
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if any(o.get("ename") == "CellTimeoutError" for o in errors):
        return Row(gid, points, 0.0, "failed", "timed out")
    if errors:
        ename = errors[0].get("ename", "Error")
        msg = _first_line(errors[0].get("evalue", "")) or ename
        if ename in NOT_ATTEMPTED:
            return Row(gid, points, 0.0, "not attempted", msg)
        return Row(gid, points, 0.0, "failed", msg)
    for out in cell.get("outputs", []):
        if out.get("output_type") == "execute_result":  # nbgrader's partial credit: a number
            try:
                value = float(str(out.get("data", {}).get("text/plain", "")).strip())
            except ValueError:
                break
            if 0 <= value < points:
                return Row(gid, points, value, "partial", f"{_fmt(value)} of {_fmt(points)} points")
            break
    return Row(gid, points, points, "passed")


def execute(nb, cwd: Path, timeout: int, kernel_name: str | None = None):
    """Execute ``nb`` in place; returns (set of executed cell indices, index where the kernel died)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    client = NotebookClient(
        nb, timeout=timeout, allow_errors=True, interrupt_on_timeout=True,
        error_on_timeout={"ename": "CellTimeoutError", "evalue": f"no reply within {timeout} s",
                          "traceback": [f"CellTimeoutError: no reply within {timeout} s"]},
        shutdown_kernel="immediate", record_timing=False,
        kernel_name=kernel_name or nb.metadata.get("kernelspec", {}).get("name", "python3"),
        resources={"metadata": {"path": str(cwd)}},
    )
    ran: set[int] = set()
    died_at = None
    try:
        # The kernel's own stderr (e.g. IPKernelApp's TCP warning) is noise for students.
        with client.setup_kernel(stderr=subprocess.DEVNULL):
            _execute_extra(client, nb, WIDGET_STUB)
            for i, cell in enumerate(list(nb.cells)):
                if cell.cell_type != "code":
                    continue
                try:
                    client.execute_cell(cell, i)
                    extra = hidden_calls(cell.source) if cell.metadata.get("nbgrader", {}).get("grade") else None
                    if extra and not any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
                        cell.outputs = list(cell.get("outputs", [])) + _execute_extra(client, nb, extra)
                except DeadKernelError:
                    died_at = i
                    break
                ran.add(i)
    except DeadKernelError:
        died_at = died_at if died_at is not None else 0
    return ran, died_at


def _execute_extra(client, nb, source):
    """Run ``source`` in the kernel as a cell that is not the notebook's; return its outputs.
    (nbclient stores an executed cell at its index, so it runs as a scratch cell at the end.)"""
    from nbformat.v4 import new_code_cell

    scratch = new_code_cell(source)
    nb.cells.append(scratch)
    try:
        client.execute_cell(scratch, len(nb.cells) - 1)
        return list(nb.cells[-1].get("outputs", []))
    finally:
        nb.cells.pop()


def check_notebook(path: Path, timeout: int = 120, kernel_name: str | None = None) -> list[Row]:
    import nbformat

    path = Path(path)
    nb = nbformat.read(str(path), as_version=4)  # raises on unreadable notebooks
    ran, died_at = execute(nb, path.resolve().parent, timeout, kernel_name)
    rows = []
    for i, cell in enumerate(nb.cells):
        if cell.metadata.get("nbgrader", {}).get("grade"):
            row = classify(cell, i in ran, died_at)
            row.hidden = row.result == "manual" or "hidden=True" in cell.source or hidden_calls(cell.source) is not None
            rows.append(row)
    return rows


def format_table(rows: list[Row]) -> str:
    if not rows:
        return "No graded exercises (cells with nbgrader 'grade: true') in this notebook."
    w = max(len("Exercise"), *(len(r.grade_id) for r in rows))
    lines = [f"{'Exercise':<{w}}  {'Points':>9}  Result", f"{'-' * w}  {'-' * 9}  {'-' * 30}"]
    for r in rows:
        pts = f"{_fmt(r.earned)} / {_fmt(r.points)}" if r.result != "manual" else f"? / {_fmt(r.points)}"
        reason = r.reason if r.reason and r.result != "passed" else ""
        if reason.lower().startswith(r.result):  # the check's own "not attempted yet (...)"
            result = reason
        else:
            result = r.result + (f": {reason}" if reason else "")
        lines.append(f"{r.grade_id:<{w}}  {pts:>9}  {result}")
    auto = [r for r in rows if r.result != "manual"]
    earned = sum(r.earned for r in auto)
    total = sum(r.points for r in auto)
    counts = {k: sum(r.result == k for r in rows) for k in ("passed", "failed", "not attempted")}
    lines.append("")
    lines.append(f"Score: {_fmt(earned)} / {_fmt(total)}  ({counts['passed']} passed, {counts['failed']} "
                 f"failed, {counts['not attempted']} not attempted)")
    visible_only = [r.grade_id for r in auto if not r.hidden]
    if visible_only:
        lines.append(f"Visible tests only for {', '.join(visible_only)}: their hidden tests, if any, run at grading.")
    elif auto:
        lines.append("Hidden cases included: this is the score the grader would give.")
    manual = [r for r in rows if r.result == "manual"]
    if manual:
        lines.append(f"Graded by hand later: {', '.join(r.grade_id for r in manual)} "
                     f"({_fmt(sum(r.points for r in manual))} points)")
    return "\n".join(lines)


def report(path: Path, timeout: int = 120) -> int:
    """``check NOTEBOOK`` for the command lines (the instructor's and the student edition's): print the
    table; exit status 0, or 2 with one line on stderr when the notebook cannot be read."""
    import sys

    try:
        rows = check_notebook(path, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - unreadable notebook: the one failing exit
        print(f"error: cannot read {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(format_table(rows))
    return 0
