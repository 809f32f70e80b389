"""Chapter 2 (loss functions): the notebook's structure, its solutions, and the plotting helpers.

The notebook is read, not executed (``python -m pytest --nbval-lax solutions/02_losses`` runs it). Its
solution cells are executed here without a kernel, to prove that they pass their own checks. The
plots run headless (matplotlib's Agg backend) and must draw the student's function, or nnlib's while
it is not written yet.
"""

import ast
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from autograder.exercises.losses import CATALOGUE  # noqa: E402
from nnlib import losses as ref  # noqa: E402
from nnlib.viz import losses as viz  # noqa: E402

pytestmark = pytest.mark.ch02

CHAPTER = Path(__file__).resolve().parents[1] / "solutions" / "02_losses"
NOTEBOOK = CHAPTER / "02_losses.ipynb"
GRADE_CALL = re.compile(r"""\bgrade\(\s*["'](\w+)["']""")
CHECK_CALL = re.compile(r"""\bcheck\(\s*["'](\w+)["']""")


@pytest.fixture(scope="module")
def nb():
    return nbformat.read(str(NOTEBOOK), as_version=4)


def nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def graded_cells(nb):
    return [c for c in nb.cells if nbgrader(c).get("grade")]


def solution_cells(nb):
    return [c for c in nb.cells if nbgrader(c).get("solution")]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# -- the notebook's structure ---------------------------------------------------------------------


def test_the_chapter_folder_holds_only_the_notebook():
    # Every file in solutions/<chapter>/ is copied into the student release.
    assert sorted(p.name for p in CHAPTER.iterdir()) == ["02_losses.ipynb"]


def test_notebook_is_valid_and_uses_the_python3_kernel(nb):
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"


def test_every_exercise_has_exactly_one_graded_cell_with_points(nb):
    graded = {}
    for cell in graded_cells(nb):
        names = set(GRADE_CALL.findall(cell.source))
        assert len(names) == 1, f"a graded cell should grade one exercise, got {names}: {cell.source}"
        graded.setdefault(names.pop(), []).append(cell)
    assert set(graded) == set(CATALOGUE.exercises), "graded cells and catalogue exercises differ"
    for name, cells in graded.items():
        assert len(cells) == 1, f"{name} is graded in {len(cells)} cells"
        meta = nbgrader(cells[0])
        assert isinstance(meta.get("points"), int) and meta["points"] > 0, name
        assert meta["locked"] and not meta["solution"], name
        assert meta["grade_id"] == f"test_{name}"


def test_graded_cells_run_the_visible_and_the_hidden_check(nb):
    for cell in graded_cells(nb):
        visible, _, rest = cell.source.partition("### BEGIN HIDDEN TESTS")
        hidden, end, _ = rest.partition("### END HIDDEN TESTS")
        assert end, f"no hidden-tests block in {cell.source!r}"
        assert GRADE_CALL.search(visible) and "hidden=True" not in visible
        assert GRADE_CALL.search(hidden) and "hidden=True" in hidden


def test_grade_ids_are_unique_and_cells_have_the_nbgrader_schema(nb):
    ids = [nbgrader(c)["grade_id"] for c in nb.cells if nbgrader(c)]
    assert len(ids) == len(set(ids)), f"duplicate grade_ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    for cell in nb.cells:
        if nbgrader(cell):
            assert nbgrader(cell)["schema_version"] == 3
            assert set(nbgrader(cell)) >= {"grade", "solution", "locked", "grade_id", "schema_version", "task"}


def test_points_in_the_text_match_the_graded_cells(nb):
    points = {GRADE_CALL.search(c.source).group(1): nbgrader(c)["points"] for c in graded_cells(nb)}
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for name, p in points.items():
        assert re.search(rf"### Exercise \d+: `{name}` \({p} points?\)", text), f"{name}: heading should say {p} points"
    assert f"({sum(points.values())} points, {len(points)} graded exercises)" in nb.cells[0].source


def test_every_exercise_has_a_solution_cell_with_the_def_outside_the_markers(nb):
    defined = {}
    for cell in solution_cells(nb):
        before, begin, rest = cell.source.partition("### BEGIN SOLUTION")
        assert begin and "### END SOLUTION" in rest, cell.source
        tree = ast.parse(before.rstrip() + "\n    pass\n")  # the signature and docstring alone must parse
        (function,) = tree.body
        assert ast.get_docstring(function), f"{function.name} needs a docstring above the solution markers"
        defined[function.name] = nbgrader(cell)["grade_id"]
        assert not nbgrader(cell)["grade"] and not nbgrader(cell)["locked"]
    assert set(defined) == set(CATALOGUE.exercises)
    assert all(grade_id == f"{name}_solution" for name, grade_id in defined.items())


def test_every_exercise_has_a_visible_check_after_its_solution(nb):
    order = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and not nbgrader(cell):
            for name in CHECK_CALL.findall(cell.source):
                order.setdefault(name, index)
        if nbgrader(cell).get("solution"):
            order[nbgrader(cell)["grade_id"].removesuffix("_solution") + ":solution"] = index
    for name in CATALOGUE.exercises:
        assert name in order, f"no check cell for {name}"
        assert order[f"{name}:solution"] < order[name]


def test_a_loss_exercise_passes_the_function_twice(nb):
    # The second argument is the loss whose gradient the check computes numerically.
    for cell in nb.cells:
        for name, args in re.findall(r"""\b(?:check|grade)\(\s*["'](\w+)["'],\s*([^)]*)\)""", cell.source):
            functions = [a.strip() for a in args.split(",") if "=" not in a]
            expected = 2 if CATALOGUE[name].forward else 1
            assert functions == [name] * expected, f"{cell.source!r}"


def test_no_star_imports_path_tricks_or_autoreload(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not re.search(r"import\s+\*", cell.source), cell.source
            assert "sys.path" not in cell.source and "autoreload" not in cell.source, cell.source


def test_setup_cell_is_locked_and_imports_the_checks(nb):
    setup = next(c for c in nb.cells if nbgrader(c).get("grade_id") == "setup")
    assert setup.cell_type == "code" and nbgrader(setup)["locked"]
    assert "from autograder.exercises.losses import check, grade" in setup.source
    intro = nb.cells[0]
    assert nbgrader(intro)["grade_id"] == "intro" and nbgrader(intro)["locked"]
    for heading in ("What you will build", "What you need from earlier chapters", "How long it takes to run"):
        assert heading in intro.source


def test_only_nbval_checked_cells_keep_outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code" and "# NBVAL_CHECK_OUTPUT" not in cell.source:
            assert not cell.outputs, f"stale output in {cell.source[:60]!r}"


# -- the notebook's solutions pass their own checks -------------------------------------------------


@pytest.fixture(scope="module")
def solutions(nb):
    """The notebook's functions, from its setup and solution cells, run without a kernel."""
    namespace = {}
    setup = next(c for c in nb.cells if nbgrader(c).get("grade_id") == "setup")
    exec("\n".join(line for line in setup.source.splitlines() if not line.startswith("%")), namespace)
    for cell in solution_cells(nb):
        exec(cell.source, namespace)
    return namespace


@pytest.mark.parametrize("name", list(CATALOGUE.exercises))
@pytest.mark.parametrize("hidden", [False, True], ids=["visible", "hidden"])
def test_notebook_solution_passes_its_check(solutions, name, hidden):
    function = solutions[name]
    forward = function if CATALOGUE[name].forward else None
    for seed in (0, 7, 12345):
        report = CATALOGUE.evaluate(name, function, forward, seed=seed, hidden=hidden)
        assert report.passed, str(report)
        assert "disagrees" not in report.message, str(report)


# -- the plots and the widget -----------------------------------------------------------------------


def stub(*args):
    raise NotImplementedError


def twice_the_cross_entropy(z, t):
    loss, grad = ref.binary_cross_entropy_with_logits(z, t)
    return 2 * loss, 2 * grad


def curve(ax, gid):
    """The line of ``ax`` drawn over the whole grid of logits for ``gid`` ("mse" or "bce")."""
    (line,) = [line for line in ax.lines if line.get_gid() == gid]
    return line


def legend_texts(fig):
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def test_per_example_gives_each_examples_loss_and_gradient():
    z = np.array([-3.0, 0.0, 2.5])
    losses, grads = viz.per_example(ref.binary_cross_entropy_with_logits, z, 1)
    np.testing.assert_allclose(losses, np.log1p(np.exp(-z)))
    np.testing.assert_allclose(grads, 1 / (1 + np.exp(-z)) - 1)


def test_comparison_falls_back_to_nnlib_while_the_exercises_are_stubs():
    fig = viz.plot_loss_comparison(-4.0, 1, mse_on_sigmoid=stub, binary_cross_entropy_with_logits=stub)
    labels = legend_texts(fig)
    assert len(labels) == 2 and all("nnlib's (yours is not written yet)" in label for label in labels)
    z, bce = curve(fig.axes[0], "bce").get_data()
    np.testing.assert_allclose(bce, viz.per_example(ref.binary_cross_entropy_with_logits, z, 1)[0])


def test_comparison_draws_the_students_functions():
    fig = viz.plot_loss_comparison(1.0, 0, mse_on_sigmoid=viz.mse_on_sigmoid_reference,
                                   binary_cross_entropy_with_logits=twice_the_cross_entropy)
    assert all(label.endswith("yours") for label in legend_texts(fig))
    loss_axis, grad_axis = fig.axes
    z, bce = curve(loss_axis, "bce").get_data()
    _, dbce = curve(grad_axis, "bce").get_data()
    reference_loss, reference_grad = viz.per_example(ref.binary_cross_entropy_with_logits, z, 0)
    np.testing.assert_allclose(bce, 2 * reference_loss)  # the student's (wrong) curve, not nnlib's
    np.testing.assert_allclose(dbce, 2 * reference_grad)
    lo, hi = grad_axis.get_ylim()
    assert lo <= 0 and hi >= 2 * reference_grad.max(), "a wrong gradient must stay in view"


def test_comparison_says_so_when_the_students_function_raises():
    def broken(z, t):
        raise TypeError("oops")

    fig = viz.plot_loss_comparison(0.0, 1, binary_cross_entropy_with_logits=broken)
    assert any("yours raised TypeError" in label for label in legend_texts(fig))


def test_comparison_marks_the_point_and_shows_the_vanishing_gradient():
    fig = viz.plot_loss_comparison(-4.0, 1)
    grad_axis = fig.axes[1]
    assert "-0.0347" in grad_axis.get_title() and "-0.9820" in grad_axis.get_title()
    assert any("vanished" in t.get_text() for t in grad_axis.texts)


def test_widget_has_a_logit_slider_and_a_label_toggle_and_draws():
    widget = viz.loss_comparison_widget(mse_on_sigmoid=stub, binary_cross_entropy_with_logits=stub)
    controls = {c.description: c for c in widget.children[:-1]}
    assert set(controls) == {"logit z", "label"}
    assert controls["label"].value == 1 and controls["logit z"].value == -4.0
    plt.close("all")
    controls["label"].value = 0  # redraws
    assert plt.get_fignums(), "changing the label should draw a figure"


def test_initial_loss_is_about_log_k_for_small_weights():
    ks = (2, 10, 50)
    values = viz.initial_losses(ref.softmax_cross_entropy, ks, (0.001, 1.0), rng=np.random.default_rng(0))
    np.testing.assert_allclose(values[0], np.log(ks), rtol=0.02)
    assert np.all(values[1] > np.log(ks) + 0.5), "large weights should start well above log K"


def test_initial_loss_plot_draws_the_students_function_or_nnlibs():
    rng = np.random.default_rng(0)
    fig = viz.plot_initial_loss(softmax_cross_entropy=stub, rng=rng)
    assert "nnlib's softmax_cross_entropy (yours is not written yet)" in fig.axes[0].get_title()
    fig = viz.plot_initial_loss(softmax_cross_entropy=lambda z, y: ref.softmax_cross_entropy(z, y), rng=rng)
    assert "your softmax_cross_entropy" in fig.axes[0].get_title()
