"""Chapter 2 (loss functions): what is specific to its notebook, and the plotting helpers.

The structure every chapter's notebook shares, and its solutions passing their own checks, are
tested in tests/test_notebook_structure.py (``python -m pytest --nbval-lax solutions/02_losses``
runs the notebook). The plots run headless (matplotlib's Agg backend) and must draw the student's
function, or nnlib's while it is not written yet.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from test_notebook_structure import CHAPTERS, graded_cells, nbgrader, notebook  # noqa: E402

from nnlib import losses as ref  # noqa: E402
from nnlib.viz import losses as viz  # noqa: E402

pytestmark = pytest.mark.ch02

(CHAPTER,) = [c for c in CHAPTERS if c.name == "02_losses"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# -- the notebook: what is specific to this chapter (the rest: tests/test_notebook_structure.py) --------


def test_the_intro_counts_points_and_graded_exercises():
    nb = notebook(CHAPTER)
    points = [nbgrader(c)["points"] for c in graded_cells(nb)]
    assert f"({sum(points)} points, {len(points)} graded exercises)" in nb.cells[0].source


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
    fig = viz.plot_loss_comparison(1.0, 0, mse_on_sigmoid=ref.mse_on_sigmoid,
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
