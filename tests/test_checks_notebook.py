"""``python -m autograder check``: the score includes the hidden cases, and widgets cannot stall it."""

import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.notebook_check import check_notebook, format_table, hidden_calls

pytestmark = pytest.mark.grading  # starts a kernel


def graded(source, grade_id, points=1):
    return new_code_cell(source, metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "task": False, "points": points,
        "grade_id": grade_id, "schema_version": 3}, "tags": ["raises-exception"]})


def test_hidden_calls_are_derived_from_the_visible_ones():
    assert hidden_calls('grade("relu_backward", relu_backward, relu_forward)') == \
        'grade("relu_backward", relu_backward, relu_forward, hidden=True)'
    assert hidden_calls('grade("a", a)\n### BEGIN HIDDEN TESTS\ngrade("a", a, hidden=True)\n### END HIDDEN TESTS') is None
    assert hidden_calls("assert f(3) == 9") is None


SETUP = """\
import numpy as np
from autograder.checks import Case, Catalogue, Exercise

def cases():
    return (Case("a 1-D array", lambda rng: (rng.standard_normal(3),)),
            Case("a 2-D array", lambda rng: (rng.standard_normal((2, 2)),), hidden=True))

check, grade = Catalogue("00_t", (Exercise("double", lambda x: 2 * x, cases()),
                                  Exercise("triple", lambda x: 3 * x, cases()))).bind()
"""


def test_check_counts_the_hidden_cases_and_does_not_show_widgets(tmp_path):
    nb = new_notebook(cells=[
        new_code_cell(SETUP),
        # right on the visible 1-D case, wrong on the hidden 2-D one
        new_code_cell("def double(x):\n    return 2 * x if x.ndim == 1 else x"),
        graded('grade("double", double)', "test_double"),
        new_code_cell("def triple(x):\n    return 3 * x"),
        graded('grade("triple", triple)', "test_triple"),
        new_markdown_cell("A widget, then more cells."),
        new_code_cell("import ipywidgets\nslider = ipywidgets.IntSlider()\n"
                      "shown = ipywidgets.interactive(lambda n: print('called with', n), n=(0, 3))\nshown"),
        graded("assert 1 + 1 == 2", "test_plain", points=2),
    ])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "student.ipynb"
    nbformat.write(nb, str(path))
    start = time.perf_counter()
    rows = {r.grade_id: r for r in check_notebook(path, timeout=60)}
    assert time.perf_counter() - start < 55  # never a whole cell timeout
    assert rows["test_double"].result == "failed" and "hidden=True" in rows["test_double"].reason
    assert rows["test_triple"].result == "passed"
    assert rows["test_plain"].result == "passed" and not rows["test_plain"].hidden
    table = format_table(list(rows.values()))
    assert "Score: 3 / 4" in table
    assert "Visible tests only for test_plain" in table

    executed = nbformat.read(str(path), as_version=4)  # never written back
    assert all(not c.get("outputs") for c in executed.cells if c.cell_type == "code")


def test_the_solution_notebook_of_chapter_1_gets_full_marks_hidden_included():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "solutions" / "01_activations" / "01_activations.ipynb"
    rows = check_notebook(path, timeout=60)
    auto = [r for r in rows if r.result != "manual"]
    assert auto and all(r.result == "passed" for r in auto), format_table(rows)
    assert "Hidden cases included: this is the score the grader would give." in format_table(rows)
