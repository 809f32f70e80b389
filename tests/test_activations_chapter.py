"""Chapter 1, activation functions: the notebook's structure and its plotting helpers.

The notebook: every exercise of the catalogue has one solution cell (signature and docstring
outside the markers), one visible check and exactly one graded cell with hidden tests and points;
the solutions pass the catalogue and the released stubs are "not attempted". The helpers of
``nnlib.viz.activations`` run headless (Agg), draw the student's function or fall back to nnlib's,
and say which in their labels.
"""

import io
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from autograder.exercises.activations import CATALOGUE  # noqa: E402
from nnlib import activations as ref  # noqa: E402
from nnlib.viz import activations as viz  # noqa: E402

pytestmark = pytest.mark.ch01

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "solutions" / "01_activations"
NOTEBOOK = CHAPTER / "01_activations.ipynb"

#: Points per exercise, as announced in the notebook's overview (16 in all).
POINTS = {
    "sigmoid": 2, "sigmoid_derivative": 1, "tanh": 1, "tanh_derivative": 1, "relu": 1, "relu_derivative": 1,
    "leaky_relu": 1, "leaky_relu_derivative": 1, "elu": 2, "elu_derivative": 1, "softmax": 2, "softmax_backward": 2,
}
TOTAL_POINTS = 16

SOLUTION_REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.S | re.M)
HIDDEN_REGION = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS\n.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)


# -- the notebook ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def graded_cells(nb):
    return [c for c in nb.cells if nbgrader(c).get("grade")]


def solution_cells(nb):
    return [c for c in nb.cells if nbgrader(c).get("solution")]


def released(source):
    """What nbgrader's ClearSolutions makes of a solution cell (the stub students get)."""
    return SOLUTION_REGION.sub(lambda m: f"{m.group(1)}raise NotImplementedError()", source)


def exec_cells(sources):
    namespace = {"np": np}
    for source in sources:
        exec(compile(source, str(NOTEBOOK), "exec"), namespace)  # noqa: S102 - our own notebook's cells
    return namespace


def test_chapter_folder_holds_only_the_notebook():
    # every file in solutions/<chapter>/ is copied into the student release
    files = {p.name for p in CHAPTER.iterdir() if p.name not in {".ipynb_checkpoints", "__pycache__"}}
    assert files == {NOTEBOOK.name}


def test_notebook_is_valid_and_uses_the_python3_kernel(notebook):
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"


def test_setup_cell_imports_explicitly(notebook):
    setup = [c for c in notebook.cells if nbgrader(c).get("grade_id") == "setup"]
    assert len(setup) == 1
    cell = setup[0]
    assert cell.cell_type == "code" and nbgrader(cell)["locked"]
    assert "import *" not in cell.source
    assert "sys.path" not in cell.source and "autoreload" not in cell.source
    assert "from autograder.exercises.activations import check, grade" in cell.source
    # it comes before the first use of check or grade
    first_check = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and "check(" in c.source)
    assert notebook.cells.index(cell) < first_check


def test_no_star_import_anywhere(notebook):
    assert not [c.id for c in notebook.cells if c.cell_type == "code" and "import *" in c.source]


def test_grade_ids_are_unique_and_nbgrader_metadata_complete(notebook):
    ids = [nbgrader(c)["grade_id"] for c in notebook.cells if nbgrader(c)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for cell in notebook.cells:
        meta = nbgrader(cell)
        if meta:
            assert {"grade", "solution", "locked", "grade_id", "schema_version"} <= set(meta), cell.id
            assert meta["schema_version"] == 3


def test_every_exercise_has_exactly_one_graded_cell(notebook):
    graded = {}
    for cell in graded_cells(notebook):
        meta = nbgrader(cell)
        assert cell.cell_type == "code" and meta["locked"] and not meta["solution"], meta["grade_id"]
        names = set(re.findall(r'\bgrade\("(\w+)"', cell.source))
        assert len(names) == 1, f"{meta['grade_id']} grades {names}"
        (name,) = names
        graded.setdefault(name, []).append(cell)
    assert sorted(graded) == sorted(CATALOGUE.exercises)
    for name, cells in graded.items():
        assert len(cells) == 1, f"{name} has {len(cells)} graded cells"


@pytest.mark.parametrize("name", list(CATALOGUE.exercises))
def test_graded_cell_calls_grade_visibly_and_hidden_with_points(notebook, name):
    (cell,) = [c for c in graded_cells(notebook) if f'grade("{name}"' in c.source]
    meta = nbgrader(cell)
    assert meta["grade_id"] == f"test_{name}"
    assert meta["points"] == POINTS[name]
    forward = CATALOGUE[name].forward
    args = f"{name}, {forward}" if forward else name
    visible = HIDDEN_REGION.sub("", cell.source)
    assert f'grade("{name}", {args})' in visible
    hidden = HIDDEN_REGION.search(cell.source)
    assert hidden and f'grade("{name}", {args}, hidden=True)' in hidden.group(0)


def test_total_points(notebook):
    assert sum(nbgrader(c)["points"] for c in graded_cells(notebook)) == TOTAL_POINTS == sum(POINTS.values())
    overview = next(c for c in notebook.cells if nbgrader(c).get("grade_id") == "intro_overview")
    assert f"{TOTAL_POINTS} points" in overview.source


@pytest.mark.parametrize("name", list(CATALOGUE.exercises))
def test_exercise_layout_statement_solution_check_graded(notebook, name):
    cells = notebook.cells
    (solution,) = [c for c in solution_cells(notebook) if nbgrader(c)["grade_id"] == f"{name}_solution"]
    i = cells.index(solution)
    statement, check, graded = cells[i - 1], cells[i + 1], cells[i + 2]
    # the statement announces the points
    assert statement.cell_type == "markdown" and f"`{name}`" in statement.source
    points = POINTS[name]
    assert f"({points} point{'s' if points > 1 else ''})" in statement.source
    # the solution: def line and docstring before the markers
    meta = nbgrader(solution)
    assert solution.cell_type == "code" and meta["solution"] and not meta["grade"]
    before, marker, _ = solution.source.partition("### BEGIN SOLUTION")
    assert marker, f"{name}: no solution markers"
    assert re.match(rf"def {name}\(", before), f"{name}: the def line must come first, outside the markers"
    assert '"""' in before, f"{name}: the docstring must stand outside the markers"
    assert "### END SOLUTION" in solution.source
    # the visible check (plain code) and the graded cell right after
    forward = CATALOGUE[name].forward
    expected_check = f'check("{name}", {name}{", " + forward if forward else ""})'
    assert check.cell_type == "code" and not nbgrader(check) and check.source.strip() == expected_check
    assert nbgrader(graded).get("grade_id") == f"test_{name}"


def test_outputs_only_in_nbval_checked_cells(notebook):
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if cell.source.startswith("# NBVAL_CHECK_OUTPUT"):
            assert cell.outputs and cell.execution_count is not None, cell.id  # nbval compares these
            assert not [o for o in cell.outputs if o.output_type == "error" or o.get("name") == "stderr"]
        else:
            assert not cell.outputs and cell.execution_count is None, f"{cell.id} has stale outputs"


def test_solutions_pass_the_catalogue(notebook):
    namespace = exec_cells(c.source for c in solution_cells(notebook))
    for name, exercise in CATALOGUE.exercises.items():
        forward = namespace[exercise.forward] if exercise.forward else None
        for hidden in (False, True):
            report = CATALOGUE.evaluate(name, namespace[name], forward, seed=7, hidden=hidden)
            assert report.passed, str(report)


def test_released_stubs_are_not_attempted(notebook):
    stubs = [released(c.source) for c in solution_cells(notebook)]
    assert all("BEGIN SOLUTION" not in s and "raise NotImplementedError()" in s for s in stubs)
    namespace = exec_cells(stubs)
    for name, exercise in CATALOGUE.exercises.items():
        forward = namespace[exercise.forward] if exercise.forward else None
        report = CATALOGUE.evaluate(name, namespace[name], forward)
        assert report.status == "not attempted", str(report)


# -- the plotting helpers ----------------------------------------------------------------------


def stub(*args, **kwargs):
    raise NotImplementedError()


def broken(*args, **kwargs):
    raise ValueError("a bug")


def relu_derivative_ge(x):
    """A wrong kink: 1 at x = 0."""
    return (x >= 0).astype(x.dtype)


def labels(fig):
    """Every legend entry, title and text of a figure."""
    found = []
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend:
            found += [t.get_text() for t in legend.get_texts()]
        found.append(ax.get_title())
        found += [t.get_text() for t in ax.texts]
    return found


def renders(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=40)
    return buffer.getvalue().startswith(b"\x89PNG")


def reference_pair(name):
    spec = viz.ACTIVATIONS[name]
    return spec.function, spec.derivative


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    # a matplotlib or numpy warning in a helper would show up under every student's plot
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.mark.parametrize("name", list(viz.ACTIVATIONS))
def test_plot_activation_draws_yours_over_nnlibs(name):
    function, derivative = reference_pair(name)
    # a function other than nnlib's own object, as a student's is
    fig = viz.plot_activation(name, lambda *a: function(*a), lambda *a: derivative(*a))
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    text = labels(fig)
    assert f"{name} (yours)" in text and f"{name} (nnlib's)" in text
    assert f"{name}' (yours)" in text and f"{name}' (nnlib's)" in text
    assert fig.disagreements == {"function": 0, "derivative": 0}


@pytest.mark.parametrize("name", list(viz.ACTIVATIONS))
def test_plot_activation_falls_back_to_nnlibs_for_a_stub(name):
    fig = viz.plot_activation(name, stub, stub)
    text = labels(fig)
    assert f"{name} (nnlib's (yours is not written yet))" in text
    assert not [t for t in text if "(yours)" in t]
    assert fig.disagreements == {"function": None, "derivative": None}


def test_plot_activation_without_functions_draws_nnlibs():
    fig = viz.plot_activation("elu", param=2.0)
    assert "elu (nnlib's)" in labels(fig) and "alpha=2" in fig.axes[0].get_title()


def test_plot_activation_marks_where_yours_differs():
    fig = viz.plot_activation("relu", ref.relu, relu_derivative_ge)
    assert fig.disagreements["derivative"] == 1  # only x = 0, which is on the grid
    assert any("yours differs (1 of 401 points)" in t for t in labels(fig))
    assert renders(fig)


def test_plot_activation_survives_a_broken_function():
    fig = viz.plot_activation("sigmoid", broken, ref.sigmoid_derivative)
    assert fig.disagreements["function"] == "yours raised ValueError"
    assert "yours raised ValueError" in labels(fig)


def test_plot_activation_accepts_float32_answers():
    fig = viz.plot_activation("sigmoid", lambda x: ref.sigmoid(x.astype(np.float32)), ref.sigmoid_derivative)
    assert fig.disagreements["function"] == 0


def test_plot_activation_rejects_an_unknown_name():
    with pytest.raises(ValueError, match="unknown activation"):
        viz.plot_activation("swish")


def test_explorer_is_a_widget_that_redraws():
    import ipywidgets

    yours = {name: (lambda *a, f=f: f(*a), lambda *a, d=d: d(*a)) for name, (f, d) in
             ((n, reference_pair(n)) for n in viz.ACTIVATIONS)}
    box = viz.activation_explorer(yours)
    assert isinstance(box, ipywidgets.VBox)
    controls = box.controls
    assert isinstance(controls["activation"], ipywidgets.Dropdown)
    assert list(controls["activation"].options) == list(viz.ACTIVATIONS)
    assert isinstance(box.figure, Figure) and "sigmoid (yours)" in labels(box.figure)
    assert controls["parameter"].disabled  # sigmoid has no parameter
    assert "agrees" in box.status.value

    controls["activation"].value = "elu"
    assert not controls["parameter"].disabled and controls["parameter"].description == "alpha"
    assert controls["parameter"].value == 1.0
    controls["parameter"].value = 2.0
    assert "alpha=2" in box.figure.axes[0].get_title()

    controls["activation"].value = "leaky_relu"
    assert controls["parameter"].description == "slope" and controls["parameter"].value == 0.1
    controls["x_range"].value = (-20.0, 10.0)
    assert box.figure.axes[0].get_xlim()[0] <= -20 and box.figure.axes[0].get_xlim()[1] >= 10
    assert "leaky_relu (yours)" in labels(box.figure)

    controls["activation"].value = "tanh"
    assert controls["parameter"].disabled


def test_explorer_falls_back_and_reports_disagreements():
    box = viz.activation_explorer({"relu": (stub, relu_derivative_ge)})
    box.controls["activation"].value = "relu"
    assert "function: nnlib's (yours is not written yet)" in box.status.value
    assert "derivative: yours differs at 1 point " in box.status.value
    assert "relu (nnlib's (yours is not written yet))" in labels(box.figure)
    box.controls["activation"].value = "elu"  # not given at all: nnlib's
    assert "elu (nnlib's)" in labels(box.figure)


def test_vanishing_gradient_plot():
    fig = viz.plot_vanishing_gradient(lambda x: ref.sigmoid_derivative(x), stub, lambda x: ref.relu_derivative(x))
    assert isinstance(fig, Figure)
    text = labels(fig)
    assert "sigmoid' (yours)" in text and "relu' (yours)" in text
    assert "tanh' (nnlib's (yours is not written yet))" in text
    best_case = next(line for line in fig.axes[1].get_lines() if "best case" in line.get_label())
    depth, factor = best_case.get_data()
    assert factor[list(depth).index(10)] == pytest.approx(0.25**10)
    assert renders(fig)


def test_vanishing_gradient_plot_with_stubs_or_nothing():
    for fig in (viz.plot_vanishing_gradient(stub, stub, stub), viz.plot_vanishing_gradient()):
        text = labels(fig)
        assert not [t for t in text if "(yours)" in t]
        assert any("nnlib's" in t for t in text)


def test_gallery_shows_six_panels_and_whose():
    yours = {"sigmoid": (lambda x: ref.sigmoid(x), lambda x: ref.sigmoid_derivative(x)), "relu": (stub, stub),
             "tanh": (broken, lambda x: ref.tanh_derivative(x))}
    fig = viz.plot_gallery(yours, lambda x: ref.softmax(x))
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 6
    assert titles[0] == "sigmoid: yours" and titles[2] == "relu: nnlib's" and titles[1] == "tanh: nnlib's / yours"
    assert titles[5] == "softmax: yours"
    assert renders(fig)
    stubbed = viz.plot_gallery({}, stub)
    assert [ax.get_title() for ax in stubbed.axes][5] == "softmax: nnlib's"


def test_xor_plot():
    linear = lambda P: np.full(len(P), 0.5)  # noqa: E731 - a constant surface has no 0.5 contour
    net = lambda P: np.maximum(P @ np.ones((2, 2)) + np.array([0.0, -1.0]), 0) @ np.array([1.0, -2.0])  # noqa: E731
    samples = (np.array([[0.1, -0.1], [0.9, 0.1], [-2.0, 3.0]]), np.array([0, 1, 1]))  # one far outside the view
    fig = viz.plot_xor({"linear": linear, "network": net}, samples=samples)
    assert fig.axes[0].get_xlim() == (-0.5, 1.5) and fig.axes[1].get_ylim() == (-0.5, 1.5)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["linear", "network"]
    assert renders(fig)


def test_softmax_jacobian_plot():
    fig = viz.plot_softmax_jacobian(np.array([2.0, 1.0, 0.1, -1.0]), lambda x: ref.softmax(x))
    assert "(yours)" in fig.axes[0].get_title()
    image = fig.axes[1].get_images()[0].get_array()
    s = ref.softmax(np.array([2.0, 1.0, 0.1, -1.0]))
    np.testing.assert_allclose(image, np.diag(s) - np.outer(s, s))
    fallback = viz.plot_softmax_jacobian(np.zeros(3), stub)
    assert "nnlib's" in fallback.axes[0].get_title()
    assert renders(fig)
