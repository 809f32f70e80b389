"""Chapter 3, backpropagation and gradient descent: the notebook's points, what the catalogue
checks beyond the generic tests (tests/test_exercises.py), and the plots, headless.

The structure every chapter's notebook shares is tested in tests/test_notebook_structure.py; the
notebook itself runs under nbval (``pytest --nbval-lax solutions/03_backprop``).
"""

import io
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from test_notebook_structure import CHAPTERS, cell_with_id, graded_cells, nbgrader, notebook  # noqa: E402

from autograder.exercises import backprop  # noqa: E402
from nnlib import data, dense, gradcheck, optim  # noqa: E402
from nnlib import activations as act  # noqa: E402
from nnlib.losses import softmax_cross_entropy  # noqa: E402
from nnlib.viz import training as viz  # noqa: E402

pytestmark = pytest.mark.ch03

(CHAPTER,) = [c for c in CHAPTERS if c.name == "03_backprop"]
CATALOGUE = backprop.CATALOGUE
TOTAL_POINTS = 33


def stub(*args, **kwargs):
    raise NotImplementedError


# -- the notebook: what is specific to this chapter (the rest: tests/test_notebook_structure.py) --------


def test_points_add_up_to_the_announced_total():
    nb = notebook(CHAPTER)
    assert sum(nbgrader(c)["points"] for c in graded_cells(nb)) == TOTAL_POINTS
    assert f"{TOTAL_POINTS} points" in cell_with_id(nb, "intro_overview").source


# -- the catalogue: what the generic tests do not cover -------------------------------------------


def test_a_parameter_update_in_place_is_caught():
    def in_place(params, grads, lr):
        for k in params:
            params[k] -= lr * grads[k]
        return params

    report = CATALOGUE.evaluate("sgd_update", in_place)
    assert report.status == "failed" and "modified its input" in report.message


def test_replacing_entries_of_the_given_dict_is_caught():
    def replaces(params, grads, lr):
        for k in params:
            params[k] = params[k] - lr * grads[k]
        return params

    report = CATALOGUE.evaluate("sgd_update", replaces)
    assert report.status == "failed" and "changed the dict of parameters" in report.message

    def loop(loss_fn, params, x, y, lr, num_steps):
        losses = []
        for _ in range(num_steps):
            loss, grads = loss_fn(params, x, y)
            losses.append(loss)
            for k in params:
                params[k] = params[k] - lr * grads[k]
        return params, losses

    report = CATALOGUE.evaluate("gradient_descent", loop)
    assert report.status == "failed" and "changed the dict of parameters" in report.message


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("hidden", [False, True])
def test_the_forward_difference_is_too_inaccurate_at_the_tolerance(seed, hidden):
    forward_difference = backprop.EXERCISES[2].mistakes[0].implementation
    report = CATALOGUE.evaluate("numerical_gradient", forward_difference, seed=seed, hidden=hidden)
    assert report.status == "failed" and "forward difference" in report.message


def test_an_unrestored_x_is_diagnosed_even_when_the_gradient_is_right():
    def no_restore(f, x, h=1e-5):
        grad = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            original = x[i]
            x[i] = original + h
            f_plus = f(x)
            x[i] = original - h
            grad[i] = (f_plus - f(x)) / (2 * h)
        return grad

    report = CATALOGUE.evaluate("numerical_gradient", no_restore)
    assert report.status == "failed" and "x after the call" in report.message and "restored" in report.message


def test_a_forward_without_its_cache_is_explained():
    report = CATALOGUE.evaluate("affine_forward", lambda x, w, b: x @ w + b)
    assert report.status == "failed" and "should return a pair (out, cache)" in report.message


@pytest.mark.parametrize(
    "name, answer, forward",
    [
        ("numerical_gradient", lambda f, x, h=1e-5: gradcheck.numerical_gradient(f, x, h), None),
        ("affine_backward", lambda dout, cache: dense.affine_backward(dout, cache), lambda x, w, b: (x @ w + b, (x, w, b.dtype))),
        ("relu_backward", lambda dout, cache: act.elementwise_backward(dout, cache), lambda x: (np.maximum(x, 0), (x, "relu", {}))),
        ("sgd_update", lambda p, g, lr: {k: optim.sgd_step(p[k], g[k], None, lr)[0] for k in p}, None),
    ],
)
def test_calling_nnlib_is_caught(name, answer, forward):
    report = CATALOGUE.evaluate(name, answer, forward)
    assert report.status == "failed" and "calls nnlib's answer" in report.message, report.message


def _solutions():
    """Right answers written the way the notebook's solutions are (not nnlib's functions)."""

    def affine_forward(x, w, b):
        return x @ w + b, (x, w)

    def affine_backward(dout, cache):
        x, w = cache
        return dout @ w.T, x.T @ dout, dout.sum(axis=0)

    def relu_forward(x):
        return np.maximum(x, 0), x

    def relu_backward(dout, cache):
        return dout * (cache > 0)

    def neuron_forward(w, b, x, y):
        y_hat = float(act.sigmoid(w * x + b))
        return (y_hat - y) ** 2, (x, y, y_hat)

    def neuron_backward(cache):
        x, y, y_hat = cache
        dz = 2 * (y_hat - y) * y_hat * (1 - y_hat)
        return dz * x, dz

    def two_layer_loss(params, x, y):
        z1, cache1 = affine_forward(x, params["W1"], params["b1"])
        h1, relu_cache = relu_forward(z1)
        scores, cache2 = affine_forward(h1, params["W2"], params["b2"])
        loss, dscores = softmax_cross_entropy(scores, y)  # chapter 2's loss is free to use
        dh1, dW2, db2 = affine_backward(dscores, cache2)
        _, dW1, db1 = affine_backward(relu_backward(dh1, relu_cache), cache1)
        return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}

    def gradient_descent(loss_fn, params, x, y, lr, num_steps):
        params, losses = dict(params), []  # a new dict, even after zero steps
        for _ in range(num_steps):
            loss, grads = loss_fn(params, x, y)
            losses.append(loss)
            params = {k: params[k] - lr * grads[k] for k in params}
        return params, losses

    return locals()


@pytest.mark.parametrize("name", ["neuron_backward", "affine_backward", "relu_backward", "two_layer_loss"])
def test_right_answers_get_no_spurious_note_from_the_numerical_gradient(name):
    ours = _solutions()
    function = ours[name]
    forward = ours[CATALOGUE[name].forward]
    for seed in range(40):
        for hidden in (False, True):
            report = CATALOGUE.evaluate(name, function, forward, seed=seed, hidden=hidden)
            assert report.passed and "disagrees" not in report.message, str(report)


@pytest.mark.parametrize("hidden", [False, True], ids=["visible", "hidden"])
def test_a_right_training_loop_passes_although_the_check_gives_it_nnlibs_loss(hidden):
    """The check's loss_fn is nnlib's two_layer_loss, a forbidden answer: its calls are the check's, not the student's."""
    for seed in range(3):
        report = CATALOGUE.evaluate("gradient_descent", _solutions()["gradient_descent"], seed=seed, hidden=hidden)
        assert report.passed, str(report)


def test_a_training_loop_that_calls_nnlibs_loss_itself_is_caught():
    ours = _solutions()

    def loop(loss_fn, params, x, y, lr, num_steps):
        return ours["gradient_descent"](dense.two_layer_loss, params, x, y, lr, num_steps)

    report = CATALOGUE.evaluate("gradient_descent", loop)
    assert report.status == "failed" and "calls nnlib's answer nnlib.dense.two_layer_loss" in report.message, str(report)


def test_a_right_backward_of_a_wrong_forward_blames_the_forward():
    def forward_without_bias(x, w, b):
        return x @ w, (x, w)

    report = CATALOGUE.evaluate("affine_backward", _solutions()["affine_backward"], forward_without_bias)
    assert report.passed and "your affine_forward" in report.message and "check affine_forward" in report.message.replace("fix", "check")


def test_a_wrong_backward_consistent_with_a_wrong_forward_says_fix_the_forward():
    def half_forward(w, b, x, y):
        y_hat = float(act.sigmoid(w * x + b))
        return (y_hat - y) ** 2 / 2, (x, y, y_hat)

    def half_backward(cache):
        x, y, y_hat = cache
        dz = (y_hat - y) * y_hat * (1 - y_hat)
        return dz * x, dz

    report = CATALOGUE.evaluate("neuron_backward", half_backward, half_forward)
    assert report.status == "failed" and "fix neuron_forward" in report.message


def test_a_shortcut_that_returns_the_given_dict_is_caught():
    # It passed before: with lr = 0 the values are right, but the caller's dict and the result are one object.
    def shortcut(params, grads, lr):
        return params if lr == 0 else {k: params[k] - lr * grads[k] for k in params}

    report = CATALOGUE.evaluate("sgd_update", shortcut)
    assert report.status == "failed" and "returned the very dict it was given" in report.message, str(report)


def test_a_loop_that_returns_the_given_dict_after_zero_steps_is_caught():
    def loop(loss_fn, params, x, y, lr, num_steps):
        losses = []
        for _ in range(num_steps):
            loss, grads = loss_fn(params, x, y)
            losses.append(loss)
            params = {k: params[k] - lr * grads[k] for k in params}
        return params, losses

    report = CATALOGUE.evaluate("gradient_descent", loop)
    assert report.status == "failed" and "zero steps" in report.message and "very dict" in report.message, str(report)


def test_a_loop_that_calls_its_own_loss_instead_of_loss_fn_is_caught():
    # It passed before: the check always handed over two_layer_loss, so calling it directly looked right.
    ours = _solutions()

    def loop(loss_fn, params, x, y, lr, num_steps):
        return ours["gradient_descent"](ours["two_layer_loss"], params, x, y, lr, num_steps)

    report = CATALOGUE.evaluate("gradient_descent", loop)
    assert report.status == "failed" and "L2 penalty" in report.message, str(report)
    assert "calls two_layer_loss itself instead of the loss_fn" in report.message


@pytest.mark.parametrize("layout", ["transposed", "sliced"])
def test_numerical_gradient_through_a_flattened_copy_fails_on_a_view(layout):
    # It passed before: every case handed over a contiguous x, where x.reshape(-1) is a view.
    def flattened(f, x, step=1e-5):
        flat, grad = x.reshape(-1), np.zeros(x.size)
        for i in range(x.size):
            original = flat[i]
            flat[i] = original + step
            f_plus = f(x)
            flat[i] = original - step
            grad[i] = (f_plus - f(x)) / (2 * step)
            flat[i] = original
        return grad.reshape(x.shape)

    for hidden in (False, True):
        report = CATALOGUE.evaluate("numerical_gradient", flattened, hidden=hidden)
        assert report.status == "failed" and "view" in report.message and "np.ndindex" in report.message, str(report)
    assert backprop.laid_out(np.ones((2, 3)), layout).flags.c_contiguous is False


def test_x_restored_by_adding_and_subtracting_the_step_is_not_exactly_restored():
    # It passed before: the rounding left in x (about 1e-16) is far within the comparison's tolerance.
    def add_and_subtract(f, x, step=1e-5):
        grad = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            x[i] += step
            f_plus = f(x)
            x[i] -= 2 * step
            f_minus = f(x)
            x[i] += step
            grad[i] = (f_plus - f_minus) / (2 * step)
        return grad

    for hidden in (False, True):
        report = CATALOGUE.evaluate("numerical_gradient", add_and_subtract, hidden=hidden)
        assert report.status == "failed" and "not exactly as it was" in report.message, str(report)


def test_numerical_gradient_that_ignores_its_step_fails_visibly_and_hidden():
    def fixed_step(f, x, step=1e-5):
        return gradcheck.numerical_gradient(f, np.array(x), 1e-5)

    for hidden in (False, True):
        report = backprop.Catalogue("03_backprop", backprop.EXERCISES).evaluate("numerical_gradient", fixed_step, hidden=hidden)
        assert report.status == "failed" and "larger step" in report.message, str(report)


def test_train_digits_is_judged_on_held_out_digits_only():
    splits = backprop.digits_splits()
    x_train, _ = splits["train"]
    seen = {tuple(row) for row in x_train[:500].tolist()}
    for held_out in ("validation", "test"):
        x_held, _ = splits[held_out]
        assert len(x_held) == 2000 and not any(tuple(row) in seen for row in x_held[:200].tolist())
    assert set(c.description.split("judged on the 2000 ")[1] for c in CATALOGUE["train_digits"].cases) == \
        {"validation digits", "test digits"}


def test_train_digits_below_the_threshold_says_the_accuracy():
    def linear_only(x, y, rng, on_epoch=None):  # a network whose hidden layer is all but absent
        return {"W1": np.zeros((256, 4)), "b1": np.ones(4), "W2": np.zeros((4, 10)), "b2": np.arange(10.0)}

    report = CATALOGUE.evaluate("train_digits", linear_only)
    assert report.status == "failed" and "accuracy on held-out digits (at least 90% needed)" in report.message, str(report)
    bad_shape = lambda x, y, rng, on_epoch=None: {"W1": np.zeros((256, 4)), "b1": np.zeros(4), "W2": np.zeros((4, 3)), "b2": np.zeros(3)}  # noqa: E731
    report = CATALOGUE.evaluate("train_digits", bad_shape)
    assert report.status == "failed" and "10 classes" in report.message, str(report)


def test_the_reference_training_reaches_the_threshold_with_a_margin():
    splits = backprop.digits_splits()
    for train, held_out in (("train", "validation"), ("train_hidden", "test")):
        params = backprop.train_digits_reference(*splits[train], np.random.default_rng(backprop.DIGITS_SEED))
        assert backprop.accuracy(params, *splits[held_out]) > backprop.DIGITS_THRESHOLD + 0.02


def test_the_hidden_digits_case_trains_on_other_images_never_on_its_held_out_ones():
    # train_digits's x and y vary across the cases (tests/test_exercises.py); the test digits stay unseen.
    splits = backprop.digits_splits()
    (x_visible, _), (x_hidden, _), (x_test, _) = splits["train"], splits["train_hidden"], splits["test"]
    assert x_hidden.shape == x_visible.shape and not np.array_equal(x_hidden, x_visible)
    seen = {tuple(row) for row in x_hidden[:500].tolist()}
    assert not any(tuple(row) in seen for row in x_test[:200].tolist())


# -- the statements ask for derivations: no solution line is written out in the text ---------------

STATEMENT_GRADE_IDS = [f"{name}_statement" for name in backprop.CATALOGUE.exercises]


def _solution_lines():
    nb = notebook(CHAPTER)
    for cell in nb.cells:
        meta = nbgrader(cell)
        if cell.cell_type == "code" and meta.get("solution"):
            body = cell.source.partition("### BEGIN SOLUTION")[2].partition("### END SOLUTION")[0]
            for line in body.splitlines():
                code = line.split("#")[0].strip()
                if len(code) >= 12 and not code.startswith(("return loss", "losses = ", "for _ in")):
                    yield meta["grade_id"], code


def test_no_markdown_cell_spells_out_a_line_of_a_solution():
    # "Could a student who only copies from the statement pass?" The text before and after the
    # exercises must not hold the answer's code (e.g. `dout @ w.T`, `dout * (x > 0)`).
    text = "\n".join(c.source for c in notebook(CHAPTER).cells if c.cell_type == "markdown")
    squeezed = text.replace(" ", "")
    given = {  # the forward pass and the interface, which the statements give on purpose
        "loss, dscores = softmax_cross_entropy(scores, y)",
        "on_epoch(params)",
    }
    leaks = [(gid, code) for gid, code in _solution_lines() if code.replace(" ", "") in squeezed and code not in given]
    assert not leaks, leaks
    for fragment in ("dout @ w.T", "x.T @ dout", "dout * (x > 0)", "np.maximum(x, 0)", "params[k] - lr * grads[k]"):
        assert fragment.replace(" ", "") not in squeezed, fragment


@pytest.mark.parametrize("grade_id", [g for g in STATEMENT_GRADE_IDS if g not in ("neuron_forward_statement", "affine_forward_statement")])
def test_statements_fold_two_progressive_hints_away(grade_id):
    source = cell_with_id(notebook(CHAPTER), grade_id).source
    assert source.index("<summary>Hint 1</summary>") < source.index("<summary>Hint 2</summary>")
    assert source.count("</details>") == 2


def test_two_written_questions_with_points_and_rubrics():
    nb = notebook(CHAPTER)
    answers = [c for c in nb.cells if nbgrader(c).get("grade_id", "").startswith("written_") and nbgrader(c).get("solution")]
    assert len(answers) == 2
    for cell in answers:
        meta, i = nbgrader(cell), nb.cells.index(cell)
        assert cell.cell_type == "markdown" and meta["grade"] and not meta["locked"] and meta["points"] > 0
        assert f"**Rubric ({meta['points']} points):**" in cell.source
        assert cell.source.startswith("### BEGIN SOLUTION") and cell.source.rstrip().endswith("### END SOLUTION")
        question = nb.cells[i - 1]
        assert nbgrader(question)["locked"] and f"({meta['points']} points, graded by hand)" in question.source


def test_every_experiment_is_preceded_by_a_prediction():
    nb = notebook(CHAPTER)
    experiments = ("viz.train_live(", "viz.compare_learning_rates(", "_, tiny_losses = descent(",
                   "viz.train_with_curves(", "viz.plot_difference_errors(", "loss, grads = loss_fn(tiny_weights")
    for fragment in experiments:
        (i,) = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and fragment in c.source]
        assert nb.cells[i - 1].source.startswith("**Predict.**"), fragment


def test_graded_cells_let_run_all_continue():
    for cell in graded_cells(notebook(CHAPTER)):
        if cell.cell_type == "code":
            assert "raises-exception" in cell.metadata.get("tags", []), nbgrader(cell)["grade_id"]


def test_text_errors_of_issue_7_stay_fixed():
    text = "\n".join(c.source for c in notebook(CHAPTER).cells if c.cell_type == "markdown")
    assert "passes silently" not in text and "the seed's" not in text
    assert "about as much as one forward pass" not in text and "about as much as the forward pass" not in text
    assert "about **two forward passes**" in text and "section 1's chain rule" in text


# -- the plots, headless ----------------------------------------------------------------------------


def _png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=40)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def problem():
    x, y = data.spirals(20, n_classes=3, noise=0.2, rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    params = {"W1": rng.standard_normal((2, 16)), "b1": np.zeros(16),
              "W2": 0.1 * rng.standard_normal((16, 3)), "b2": np.zeros(3)}
    return params, x, y


def test_neuron_graph_shows_the_worked_example_and_the_students_numbers():
    fig = viz.plot_neuron_graph(0.5, -1.0, 2.0, 1.0)
    assert fig.values["J"] == pytest.approx(0.25)
    assert (fig.values["dJ/dw"], fig.values["dJ/db"]) == pytest.approx((-0.5, -0.25))
    assert "nnlib's" in fig.axes[0].get_title()
    _png(fig)
    ours = _solutions()
    wrong_backward = lambda cache: (1.0, 2.0)  # noqa: E731
    fig = viz.plot_neuron_graph(0.5, -1.0, 2.0, 1.0, ours["neuron_forward"], wrong_backward)
    assert (fig.values["dJ/dw"], fig.values["dJ/db"]) == (1.0, 2.0) and "your" in fig.axes[0].get_title()
    fig = viz.plot_neuron_graph(0.5, -1.0, 2.0, 1.0, stub, stub)
    assert fig.values["dJ/dw"] == pytest.approx(-0.5) and "nnlib's" in fig.axes[0].get_title()


def test_difference_errors_show_central_beats_forward():
    fig = viz.plot_difference_errors()
    at = np.argmin(np.abs(np.log10(fig.steps) + 5))
    assert fig.errors["central"][at] < 1e-9 < 1e-7 < fig.errors["forward"][at]
    _png(fig)
    assert "nnlib's" in viz.plot_difference_errors(stub).axes[0].get_legend().get_texts()[1].get_text()
    mine = viz.plot_difference_errors(lambda f, x, h=1e-5: gradcheck.numerical_gradient(f, x, h))
    assert "yours" in mine.axes[0].get_legend().get_texts()[1].get_text()


def test_decision_boundary_colours_the_plane_by_the_prediction():
    x = np.array([[-1.0, 0.0], [1.0, 0.0], [-0.5, 1.0], [0.5, -1.0]])
    y = np.array([0, 1, 0, 1])
    fig = viz.plot_decision_boundary(lambda p: (p[:, 0] > 0).astype(int), x, y)
    assert fig.accuracy == 1.0 and "100%" in fig.axes[0].get_title()
    scores = lambda p: np.column_stack([-p[:, 0], p[:, 0]])  # noqa: E731
    assert viz.plot_decision_boundary(scores, x, y).accuracy == 1.0
    _png(fig)


def test_loss_axis_is_logarithmic_only_when_the_losses_span_a_decade():
    assert viz.plot_losses(np.linspace(1.1, 0.6, 50)).axes[0].get_yscale() == "linear"
    assert viz.plot_losses({"a": np.geomspace(1.0, 0.01, 50), "b": [1.0, np.nan]}).axes[0].get_yscale() == "log"
    _png(viz.plot_losses(np.geomspace(1.0, 0.01, 50)))


def test_network_predictor_uses_the_students_layers_or_nnlibs(problem):
    params, x, _ = problem
    expected = np.maximum(x @ params["W1"] + params["b1"], 0) @ params["W2"] + params["b2"]
    ours = _solutions()
    np.testing.assert_allclose(viz.network_predictor(params)(x), expected)
    np.testing.assert_allclose(viz.network_predictor(params, ours["affine_forward"], ours["relu_forward"])(x), expected)
    np.testing.assert_allclose(viz.network_predictor(params, stub, stub)(x), expected)
    doubled = lambda x, w, b: (2 * (x @ w + b), None)  # noqa: E731
    assert not np.allclose(viz.network_predictor(params, doubled)(x), expected)


def test_training_functions_fall_back_to_nnlib_while_unsolved():
    gd, loss_fn, who = viz.training_functions(stub, stub)
    assert gd is optim.gradient_descent and loss_fn is dense.two_layer_loss and "nnlib's" in who
    gd, loss_fn, who = viz.training_functions(optim.gradient_descent, dense.two_layer_loss)
    assert gd is optim.gradient_descent and who == "your gradient_descent and two_layer_loss"


def test_train_live_trains_with_the_students_functions_and_leaves_params_alone(problem):
    params, x, y = problem
    before = {k: v.copy() for k, v in params.items()}
    calls = []

    def gradient_descent(loss_fn, params, x, y, lr, num_steps):
        calls.append(num_steps)
        return optim.gradient_descent(loss_fn, params, x, y, lr, num_steps)

    trained, losses = viz.train_live(gradient_descent, dense.two_layer_loss, params, x, y,
                                     lr=1.0, steps=50, every=20, show=False)
    assert calls[-3:] == [20, 20, 10] and losses.shape == (50,) and losses[-1] < losses[0]
    fallback, fallback_losses = viz.train_live(stub, stub, params, x, y, lr=1.0, steps=50, every=20, show=False)
    np.testing.assert_allclose(fallback_losses, losses, rtol=1e-10)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
    _png(viz.plot_training(trained, losses, x, y, title="after 50 steps"))


def test_learning_rates_too_small_good_and_too_large(problem):
    params, x, y = problem
    fig = viz.compare_learning_rates(stub, stub, params, x, y, lrs=(0.01, 1.0, 20.0), steps=60)
    small, good, large = (fig.losses[lr] for lr in (0.01, 1.0, 20.0))
    assert good[-1] < small[-1] < small[0]
    assert len(fig.axes) == 6 and large[-1] > small[0]
    _png(fig)


def test_the_too_large_panel_says_every_relu_died_instead_of_diverged():
    # The chapter's run at lr = 20: the loss jumps, then sits flat (not infinite) because every
    # hidden unit is dead. The panel used to call that "diverged".
    x, y = data.spirals(100, n_classes=3, noise=0.2, rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    params = {"W1": rng.standard_normal((2, 32)), "b1": np.zeros(32),
              "W2": 0.1 * rng.standard_normal((32, 3)) / 4, "b2": np.zeros(3)}
    fig = viz.compare_learning_rates(stub, stub, params, x, y, lrs=(0.01, 1.0, 20.0), steps=100)
    large = fig.losses[20.0]
    tail = large[-30:]  # b2 alone still moves: the loss cycles within a narrow band, it does not grow
    assert np.all(np.isfinite(large)) and np.ptp(tail) < 0.1 * tail.mean()
    assert abs(large[-10:].mean() - large[-20:-10].mean()) < 0.02 * tail.mean()
    title = fig.axes[5].get_title()
    assert "every ReLU dead" in title and "diverged" not in title
    assert "every ReLU dead" not in fig.axes[4].get_title()
    trained, _ = optim.gradient_descent(dense.two_layer_loss, params, x, y, 20.0, 100)
    assert viz.dead_units(trained, x) == 32 and viz.dead_units(params, x) < 32


def test_train_with_curves_records_training_beside_validation():
    splits = backprop.digits_splits()
    (x, y), (x_val, y_val) = splits["train"], splits["validation"]
    x, y, x_val, y_val = x[:600], y[:600], x_val[:300], y_val[:300]
    fig = viz.train_with_curves(stub, x, y, x_val, y_val, threshold=0.9)
    assert "nnlib's" in fig.who and len(fig.recorder) == 8
    assert fig.recorder.train_accuracy[-1] > fig.recorder.train_accuracy[0]
    assert len(fig.axes[0].lines) == 2 and "validation" in fig.axes[1].get_title()
    _png(fig)

    def ignores_the_hook(x, y, rng, on_epoch=None):
        return backprop.train_digits_reference(x, y, rng)

    fig = viz.train_with_curves(ignores_the_hook, x, y, x_val, y_val)
    assert fig.who == "your train_digits" and len(fig.recorder) == 1 and "final state only" in fig._suptitle.get_text()

    def broken(x, y, rng, on_epoch=None):
        raise IndexError("a bug")

    fig = viz.train_with_curves(broken, x, y, x_val, y_val)
    assert fig.who == "nnlib's training (your train_digits raised IndexError)" and len(fig.recorder) == 8
    fig = viz.train_with_curves(lambda x, y, rng, on_epoch=None: None, x, y, x_val, y_val)
    assert "did not return a dict" in fig.who


def test_learning_rate_widget_retrains_when_the_slider_moves(problem):
    ipywidgets = pytest.importorskip("ipywidgets")
    params, x, y = problem
    box = viz.learning_rate_widget(stub, stub, params, x, y, steps=20)
    assert isinstance(box.slider, ipywidgets.FloatLogSlider)
    assert (box.slider.min, box.slider.max, box.slider.base) == (-3, 2, 10)
    first = box.figure
    box.slider.value = 0.01
    assert box.figure is not first and "0.01" in box.figure.axes[0].get_title()
    _png(viz.plot_learning_rate(stub, stub, params, x, y, 0.3, steps=20))


# -- review of issue 7 (a second pair of eyes): wrong answers that earned points, Run All on the release ----


def _passes(name, function, forward=None, seeds=(0, 1, 2, 3, 4)):
    """How the check judges ``function`` on the visible and the hidden cases, over a few seeds."""
    return [CATALOGUE.evaluate(name, function, forward, seed=s, hidden=h).passed for h in (False, True) for s in seeds]


def test_a_relu_with_a_hard_coded_threshold_instead_of_0_is_caught():
    # x > 1e-8 blocks the gradient of tiny positive inputs; it passed every case before the tiny inputs.
    def relu_forward(x):
        return np.maximum(x, 0), x

    assert not any(_passes("relu_backward", lambda dout, x: dout * (x > 1e-8), relu_forward))
    assert not any(_passes("relu_backward", lambda dout, x: dout * (x > -1e-8), relu_forward))
    assert all(_passes("relu_backward", lambda dout, x: dout * (x > 0), relu_forward))


def test_numerical_gradient_with_a_step_relative_to_x_is_caught():
    # h = step * max(1, |x_i|) is not the step it was given; with x of magnitude below 1 it passed.
    def relative_step(f, x, step=1e-5):
        grad = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            original, h = x[i], step * max(1.0, abs(x[i]))
            x[i] = original + h
            plus = f(x)
            x[i] = original - h
            minus = f(x)
            x[i] = original
            grad[i] = (plus - minus) / (2 * h)
        return grad

    assert not any(_passes("numerical_gradient", relative_step))


def test_a_training_loop_that_drops_the_odd_last_example_is_caught():
    def even_batches(loss_fn, params, x, y, lr, num_steps):
        params, losses, n = dict(params), [], len(x) // 2 * 2
        for _ in range(num_steps):
            loss, grads = loss_fn(params, x[:n], y[:n])
            losses.append(loss)
            params = {k: params[k] - lr * grads[k] for k in params}
        return params, losses

    assert not any(_passes("gradient_descent", even_batches))


def test_the_cells_below_an_unfinished_exercise_fall_back_to_nnlib(capsys):
    # Run All on the release: the example cells call these instead of the stubs, and say so.
    forward, backward = viz.neuron_functions(stub, stub)
    assert backward(forward(0.5, -1.0, 2.0, 1.0)[1]) == pytest.approx((-0.5, -0.25))
    assert viz.gradient_checker(stub) is gradcheck.numerical_gradient
    assert viz.affine_functions(stub, stub) == (dense.affine_forward, dense.affine_backward)
    assert viz.loss_function(stub) is dense.two_layer_loss
    assert capsys.readouterr().out.count("not written yet") == 4
    mine = lambda params, x, y: dense.two_layer_loss(params, x, y)  # noqa: E731
    assert viz.loss_function(mine) is mine and viz.gradient_checker(gradcheck.numerical_gradient) is gradcheck.numerical_gradient


def test_no_ungraded_code_cell_calls_an_exercise_directly():
    # Such a cell raises NotImplementedError on the release and stops JupyterLab's Run All (it is not tagged).
    nb = notebook(CHAPTER)
    for cell in nb.cells:
        meta = nbgrader(cell)
        if cell.cell_type != "code" or meta.get("solution") or meta.get("grade") or "raises-exception" in cell.metadata.get("tags", []):
            continue
        code = "\n".join(line.split("#")[0] for line in cell.source.splitlines() if not line.lstrip().startswith("check("))
        called = [name for name in CATALOGUE.exercises if re.search(rf"(?<![\w.]){name}\(", code)]
        assert not called, (called, cell.source)


def test_affine_and_relu_backward_get_dout_in_the_dtype_of_the_input_as_their_statements_say():
    # The statements promise dout "of the inputs' dtype" (affine) and "the shape and dtype of x" (ReLU), so no case
    # hands a float64 dout to a float32 layer (nnlib's backward handles that too, but the student is not asked to).
    text = "\n".join(c.source for c in notebook(CHAPTER).cells if c.cell_type == "markdown")
    assert "(of the inputs' dtype)" in text and "`dout` (the shape and dtype of `x`)" in text
    rng = np.random.default_rng(0)
    for name in ("affine_backward", "relu_backward"):
        for case in CATALOGUE[name].cases:
            *inputs, dout = case.draw(rng)
            assert dout.dtype == inputs[0].dtype, (name, case.description)


def test_the_visible_checks_run_where_the_sandbox_stubs_nnlibs_answers(monkeypatch):
    # In the grading sandbox, nnlib's answers to this chapter raise (autograder.sandbox.stub_sources), and the
    # notebook's visible check cells run there too: the references they compare with, and the reference forward a
    # backward falls back to when the student's forward raises, must not call them. Before, the check cells of
    # numerical_gradient, relu_forward, relu_backward and gradient_descent raised RuntimeError in every graded notebook.
    from autograder import sandbox

    kept = sandbox.needed_by_checks(CATALOGUE)
    for function in set(CATALOGUE.forbidden) - kept:
        module = __import__(function.__module__, fromlist=["_"])

        def stubbed(*args, _name=function.__name__, **kwargs):
            raise RuntimeError(f"nnlib's {_name} is stubbed while chapter 03_backprop is graded")

        monkeypatch.setattr(module, function.__name__, stubbed)
    ours = _solutions()

    def numerical_gradient(f, x, step=1e-5):
        grad = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            original = x[i]
            x[i] = original + step
            plus = f(x)
            x[i] = original - step
            minus = f(x)
            x[i] = original
            grad[i] = (plus - minus) / (2 * step)
        return grad

    ours["numerical_gradient"] = numerical_gradient
    ours["sgd_update"] = lambda params, grads, lr: {k: params[k] - lr * grads[k] for k in params}
    for name in CATALOGUE.exercises:
        if name == "train_digits":
            continue  # judged on the threshold alone, its expected value calls nothing
        forward = ours[CATALOGUE[name].forward] if CATALOGUE[name].forward else None
        for hidden in (False, True):
            report = CATALOGUE.evaluate(name, ours[name], forward, seed=3, hidden=hidden)
            assert report.passed, str(report)
    # a right ReLU backward whose forward is unwritten is judged on the reference forward, not charged
    report = CATALOGUE.evaluate("relu_backward", ours["relu_backward"], stub)
    assert "relu_forward" in report.message and "stubbed" not in report.message, str(report)


def test_a_train_digits_that_ignores_the_rng_it_is_given_is_caught():
    # The statement: all randomness from rng. A generator of its own reached the threshold and earned the points.
    from autograder.checks import trusted

    train = trusted(backprop.train_digits_reference)  # nnlib's training, its calls not held against the test

    def own_generator(x, y, rng, on_epoch=None):
        return train(x, y, np.random.default_rng(123))

    for hidden in (False, True):
        report = CATALOGUE.evaluate("train_digits", own_generator, hidden=hidden)
        assert report.status == "failed" and "never drew a number from the generator rng" in report.message, str(report)
        assert CATALOGUE.evaluate("train_digits", lambda x, y, rng, on_epoch=None: train(x, y, rng), hidden=hidden).passed
