"""Chapter 1, activation functions: the notebook's points and its plotting helpers.

The structure every chapter's notebook shares (one graded cell per exercise, solutions that pass
their checks, stubs that are "not attempted", ...) is tested in tests/test_notebook_structure.py;
here, the points of each exercise. The helpers of ``nnlib.viz.activations`` run headless (Agg),
draw the student's function or fall back to nnlib's, and say which in their labels.
"""

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from test_notebook_structure import CHAPTERS, GRADE_CALL, cell_with_id, graded_cells, nbgrader, notebook  # noqa: E402

from nnlib import activations as ref  # noqa: E402
from nnlib.viz import activations as viz  # noqa: E402

pytestmark = pytest.mark.ch01

(CHAPTER,) = [c for c in CHAPTERS if c.name == "01_activations"]

#: Points per exercise, as announced in the notebook's overview (16 in all).
POINTS = {
    "sigmoid": 2, "sigmoid_derivative": 1, "tanh": 1, "tanh_derivative": 1, "relu": 1, "relu_derivative": 1,
    "leaky_relu": 1, "leaky_relu_derivative": 1, "elu": 2, "elu_derivative": 1, "softmax": 2, "softmax_backward": 2,
}
TOTAL_POINTS = 16


# -- the notebook: what is specific to this chapter (the rest: tests/test_notebook_structure.py) --------


def test_points_per_exercise_and_in_all():
    nb = notebook(CHAPTER)
    points = {GRADE_CALL.search(c.source).group(1): nbgrader(c)["points"] for c in graded_cells(nb)}
    assert points == POINTS
    assert sum(points.values()) == TOTAL_POINTS == sum(POINTS.values())
    assert f"{TOTAL_POINTS} points" in cell_with_id(nb, "intro_overview").source


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
