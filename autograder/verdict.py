"""The verdict decided outside the student's code (trusted side of grading).

A graded test cell of a chapter is *catalogue-graded* when it holds nothing but ``grade("name",
function[, forward][, hidden=True])`` calls (every test cell of the course's chapters). Such a cell
is never executed as written in the student's kernel: the kernel gets the same calls without
comments (:func:`collect_source`), and with ``AUTOGRADER_COLLECT_DIR`` set, ``grade`` only records
what the student's functions return on the grader's inputs. The grader then, in its own process,
loads each record with ``checks.load_collected`` and judges it with ``Catalogue.judge(record,
seed=<the grader's seed>)``: the cell earns its points when every record of it passes. A missing or
unreadable record is a failure of that exercise only.

Any other graded code cell is *kernel-graded*: nbgrader's usual verdict (the cell raised or not),
which the student's code can forge; the report says so.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path

MAX_SOURCE = 20_000  # characters of a cell parsed for the similarity report


def grade_calls(source: str) -> list[tuple[str, bool]] | None:
    """``[(exercise, hidden), ...]`` if ``source`` is only ``grade("name", ...)`` calls, else None."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    calls = []
    for stmt in tree.body:
        if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
            return None
        call = stmt.value
        if not (isinstance(call.func, ast.Name) and call.func.id == "grade" and call.args
                and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)):
            return None
        if any(isinstance(a, ast.Starred) for a in call.args):
            return None
        hidden = False
        for kw in call.keywords:
            if kw.arg != "hidden" or not isinstance(kw.value, ast.Constant):
                return None
            hidden = bool(kw.value.value)
        calls.append((call.args[0].value, hidden))
    return calls or None


def collect_source(source: str) -> str:
    """What the kernel runs instead of a catalogue-graded cell: the same calls, comments dropped."""
    return "\n".join(ast.unparse(stmt) for stmt in ast.parse(source).body) + "\n"


def record_path(directory: Path, name: str, hidden: bool) -> Path:
    return Path(directory) / (f"{name}.hidden.npz" if hidden else f"{name}.npz")


@dataclass
class GradedCell:
    notebook: str
    grade_id: str
    points: float
    calls: list | None  # [(exercise, hidden)] when catalogue-graded, else None
    code: bool = True  # False: a written answer (markdown), graded by hand


def graded_cells(root: Path, chapter: str) -> list[GradedCell]:
    """The chapter's graded cells, read from the instructor's source notebooks (trusted)."""
    import nbformat

    cells = []
    for path in sorted((Path(root) / "solutions" / chapter).glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                calls = grade_calls(cell.source) if cell.cell_type == "code" else None
                cells.append(GradedCell(path.stem, meta.get("grade_id"), float(meta.get("points", 0)), calls,
                                        cell.cell_type == "code"))
    return cells


def find_catalogue(root: Path, chapter: str):
    """The ``Catalogue`` of ``chapter``: from ``autograder.exercises``, else a ``*.py`` file shipped in
    the chapter's source folder (an instructor's file, trusted) that defines ``CATALOGUE``."""
    import autograder.exercises as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        mod = importlib.import_module(f"{pkg.__name__}.{info.name}")
        cat = getattr(mod, "CATALOGUE", None)
        if cat is not None and getattr(cat, "chapter", None) == chapter:
            return cat
    for path in sorted((Path(root) / "solutions" / chapter).glob("*.py")):
        name = f"_course_checks_{chapter}_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        import sys

        # Loaded under a private name and path, so that it never shadows what the notebooks import.
        sys.path.insert(0, str(path.parent))
        try:
            spec.loader.exec_module(mod)
        finally:
            sys.path.remove(str(path.parent))
        cat = getattr(mod, "CATALOGUE", None)
        if cat is not None and getattr(cat, "chapter", None) == chapter:
            return cat
    return None


@dataclass
class CellVerdict:
    passed: bool
    reports: list = field(default_factory=list)  # checks.Report, one per call

    def text(self) -> str:
        return "\n".join(str(r) for r in self.reports)

    def first_failure(self):
        return next((r for r in self.reports if not r.passed), None)


def judge_cell(catalogue, records: Path, calls, seed: int) -> CellVerdict:
    """Judge the records of one catalogue-graded cell, outside the sandbox."""
    from autograder import checks

    reports = []
    for name, hidden in calls:
        path = record_path(records, name, hidden)
        which = f"{name}{' (hidden cases)' if hidden else ''}"
        if not path.is_file() or path.is_symlink():
            reports.append(checks.Report(name, "failed", f"no result was recorded for {which}: the cell did not "
                                         "run to its end (an error, a timeout, or the kernel died before it).", seed))
            continue
        try:
            record = checks.load_collected(path)
        except Exception as exc:  # noqa: BLE001 - CollectedFormatError, or anything a hostile file causes
            reports.append(checks.Report(name, "failed", f"the recorded results of {which} could not be read "
                                         f"({type(exc).__name__}).", seed))
            continue
        if not isinstance(record, dict) or record.get("name") != name or bool(record.get("hidden")) != hidden:
            reports.append(checks.Report(name, "failed", f"the recorded results of {which} are not "
                                         "the ones this cell asks for.", seed))
            continue
        try:
            report = catalogue.judge(record, seed=seed)
        except Exception as exc:  # noqa: BLE001 - judge must not raise; if it does, the exercise fails
            report = checks.Report(name, "failed", f"the results of {which} could not be judged "
                                   f"({type(exc).__name__}).", seed)
        reports.append(report)
    return CellVerdict(all(r.passed for r in reports), reports)


# ---------------------------------------------------------------------------------------------
# Similarity: normalised ASTs, so that renaming and reformatting do not hide a copy.


class _Normalise(ast.NodeTransformer):
    def __init__(self):
        self.names: dict[str, str] = {}

    def _n(self, name):
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node):
        return ast.copy_location(ast.Name(self._n(node.id), node.ctx), node)

    def visit_arg(self, node):
        return ast.copy_location(ast.arg(self._n(node.arg)), node)

    def visit_FunctionDef(self, node):
        node.name = "f"
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:] or [ast.Pass()]
        node.body = body
        node.returns = None
        node.decorator_list = []
        self.generic_visit(node)
        return node

    def visit_Constant(self, node):
        if isinstance(node.value, str):
            return ast.copy_location(ast.Constant("s"), node)
        return node


def tokens(source: str) -> list[str]:
    """A normalised token sequence of Python code (names renamed by first use, docstrings and
    string contents dropped); [] when it does not parse."""
    if len(source) > MAX_SOURCE:
        return []
    try:
        tree = _Normalise().visit(ast.parse(source))
        return ast.dump(tree, annotate_fields=False).replace("(", " ( ").replace(")", " ) ").replace(",", " ").split()
    except Exception:  # noqa: BLE001 - a submission's code that does not parse has no similarity
        return []


def similarity(a: list[str], b: list[str], at_least: float = 0.0) -> float:
    """``difflib.SequenceMatcher``'s ratio of two token lists; 0 at once when a cheap upper bound of
    it is below ``at_least`` (most pairs of a class, so the report need not compute them)."""
    import difflib

    if not a or not b:
        return 0.0
    m = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if m.real_quick_ratio() < at_least or m.quick_ratio() < at_least:
        return 0.0
    return m.ratio()
