"""``check``: run a notebook headless and report each graded exercise, as a student would see it.

The notebook is executed with nbclient (continuing past errors, a per-cell timeout), in its own
folder, and never written back. Each nbgrader cell with ``grade: true`` is then one row:

- passed: no error output (stderr is ignored, as in the course's autograding);
- failed: an error output; the reason is the first line of the exception's message;
- not attempted: the error is ``NotImplementedError`` (the release's stub) or an exception whose
  class is named ``NotAttempted`` (raised by ``autograder.checks``);
- not run: the kernel died before the cell (e.g. ``os._exit`` or out of memory);
- manual: a cell graded by hand (a written answer), not scored here.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

NOT_ATTEMPTED = {"NotImplementedError", "NotAttempted"}


@dataclass
class Row:
    grade_id: str
    points: float
    earned: float
    result: str  # passed / failed / not attempted / not run / manual
    reason: str = ""


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
            for i, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                try:
                    client.execute_cell(cell, i)
                except DeadKernelError:
                    died_at = i
                    break
                ran.add(i)
    except DeadKernelError:
        died_at = died_at if died_at is not None else 0
    return ran, died_at


def check_notebook(path: Path, timeout: int = 120, kernel_name: str | None = None) -> list[Row]:
    import nbformat

    path = Path(path)
    nb = nbformat.read(str(path), as_version=4)  # raises on unreadable notebooks
    ran, died_at = execute(nb, path.resolve().parent, timeout, kernel_name)
    rows = []
    for i, cell in enumerate(nb.cells):
        if cell.metadata.get("nbgrader", {}).get("grade"):
            rows.append(classify(cell, i in ran, died_at))
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
    manual = [r for r in rows if r.result == "manual"]
    if manual:
        lines.append(f"Graded by hand later: {', '.join(r.grade_id for r in manual)} "
                     f"({_fmt(sum(r.points for r in manual))} points)")
    return "\n".join(lines)
