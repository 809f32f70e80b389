"""Chapter 4, regularization, batch normalization and vanishing gradients: the notebook's points and
conventions, what the catalogue checks beyond the generic tests (tests/test_exercises.py), and the
plots and widget, headless.

The structure every chapter's notebook shares is tested in tests/test_notebook_structure.py; the
notebook itself runs under nbval (``pytest --nbval-lax solutions/04_regularization``).
"""

import io
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from test_notebook_structure import CHAPTERS, cell_with_id, nbgrader, notebook  # noqa: E402

from autograder.checks import Catalogue  # noqa: E402
from autograder.exercises import regularization as reg  # noqa: E402
from nnlib import dense, normalization, regularization  # noqa: E402
from nnlib.viz import regularization as viz  # noqa: E402

pytestmark = pytest.mark.ch04

(CHAPTER,) = [c for c in CHAPTERS if c.name == "04_regularization"]
CATALOGUE = reg.CATALOGUE
UNGUARDED = Catalogue(CATALOGUE.chapter, CATALOGUE.exercises.values())  # without the ban on calling nnlib
TOTAL_POINTS = 26
POINTS = {"regularized_loss": 3, "weight_decay_step": 1, "minibatch_sgd": 3, "dropout_forward": 2,
          "dropout_backward": 2, "variance_preserving_init": 2, "batchnorm_forward": 3, "batchnorm_backward": 5,
          "train_digits": 3, "written_dropout_rescaling": 2}


def stub(*args, **kwargs):
    raise NotImplementedError


# -- the notebook ------------------------------------------------------------------------------------


def _graded(nb):
    return [c for c in nb.cells if nbgrader(c).get("grade")]


def test_points_per_exercise_and_the_announced_total():
    nb = notebook(CHAPTER)
    points = {nbgrader(c)["grade_id"].removeprefix("test_"): nbgrader(c)["points"] for c in _graded(nb)}
    assert points == POINTS
    assert sum(points.values()) == TOTAL_POINTS
    assert f"{TOTAL_POINTS} points" in cell_with_id(nb, "intro_overview").source


def test_graded_code_cells_carry_raises_exception_so_run_all_continues():
    for cell in _graded(notebook(CHAPTER)):
        if cell.cell_type == "code":
            assert "raises-exception" in cell.metadata.get("tags", []), nbgrader(cell)["grade_id"]


def test_the_written_question_is_graded_by_hand_with_a_rubric_that_stays_in_the_solution():
    nb = notebook(CHAPTER)
    question = cell_with_id(nb, "written_dropout_question")
    answer = cell_with_id(nb, "written_dropout_rescaling")
    assert nb.cells.index(answer) == nb.cells.index(question) + 1
    assert question.cell_type == "markdown" and nbgrader(question)["locked"]
    assert "(2 points, graded by hand)" in question.source
    meta = nbgrader(answer)
    assert answer.cell_type == "markdown"
    assert (meta["grade"], meta["solution"], meta["locked"], meta["task"], meta["points"]) == (True, True, False, False, 2)
    source = answer.source.strip()
    assert source.startswith("### BEGIN SOLUTION") and source.endswith("### END SOLUTION")
    assert "**Rubric (2 points):**" in source


def test_every_statement_has_two_folded_hints():
    nb = notebook(CHAPTER)
    for name in CATALOGUE.exercises:
        statement = cell_with_id(nb, f"{name}_statement").source
        assert "<details><summary>Hint 1</summary>" in statement, name
        assert "<details><summary>Hint 2</summary>" in statement, name
        assert "def " not in statement and "```python" not in statement, f"{name}: hints never give code"


def test_every_experiment_is_preceded_by_a_predict_prompt():
    cells = notebook(CHAPTER).cells
    experiments = [i for i, c in enumerate(cells) if c.cell_type == "code" and re.search(
        r"viz\.(overfitting_experiment|lambda_sweep|dropout_statistics|dropout_experiment|plot_activation_spread|"
        r"plot_gradient_norms|deep_sigmoid_experiment)", c.source)]
    assert len(experiments) == 7
    for i in experiments:
        assert cells[i - 1].cell_type == "markdown" and cells[i - 1].source.startswith("**Predict.**"), cells[i].source


def test_the_introduction_states_the_slowest_cell():
    assert "slowest cell" in cell_with_id(notebook(CHAPTER), "intro_overview").source


def _code_solutions(nb):
    return [c.source for c in nb.cells if nbgrader(c).get("solution") and c.cell_type == "code"]


def _run(sources):
    nb = notebook(CHAPTER)
    setup = "\n".join(line for line in cell_with_id(nb, "setup").source.splitlines() if not line.startswith("%"))
    namespace = {}
    exec(compile(setup, "setup", "exec"), namespace)  # noqa: S102 - our own notebook
    for source in sources:
        exec(compile(source, "solution", "exec"), namespace)  # noqa: S102
    return namespace


@pytest.mark.parametrize("hidden", [False, True], ids=["visible", "hidden"])
def test_the_notebooks_solutions_pass_with_no_note(hidden):
    namespace = _run(_code_solutions(notebook(CHAPTER)))
    for name, exercise in CATALOGUE.exercises.items():
        forward = namespace[exercise.forward] if exercise.forward else None
        for seed in (0, 7):
            report = CATALOGUE.evaluate(name, namespace[name], forward, seed=seed, hidden=hidden)
            assert report.passed and "disagrees" not in report.message, str(report)


def test_the_released_stubs_are_not_attempted():
    from test_notebook_structure import released

    namespace = _run([released(s) for s in _code_solutions(notebook(CHAPTER))])
    for name, exercise in CATALOGUE.exercises.items():
        forward = namespace[exercise.forward] if exercise.forward else None
        assert CATALOGUE.evaluate(name, namespace[name], forward).status == "not attempted", name


# -- the catalogue: what the generic tests do not cover --------------------------------------------


def _solutions():
    """Right answers written independently of nnlib."""

    def dropout_forward(x, drop_prob, training, rng):
        if not training:
            return x.copy(), None
        keep = rng.random(x.shape) >= drop_prob
        return np.where(keep, x / (1 - drop_prob), 0).astype(x.dtype), (keep, drop_prob, x.dtype)

    def dropout_backward(dout, cache):
        if cache is None:
            return dout.copy()
        keep, p, dtype = cache
        return np.where(keep, dout / (1 - p), 0).astype(dtype)

    def batchnorm_forward(x, gamma, beta, running, training, momentum=0.9, eps=1e-5):
        if training:
            mu, var = x.mean(axis=0), ((x - x.mean(axis=0)) ** 2).mean(axis=0)
            new = {k: momentum * running[k] + (1 - momentum) * s for k, s in (("mean", mu), ("var", var))}
        else:
            mu, var, new = running["mean"], running["var"], running
        out = gamma * (x - mu) / np.sqrt(var + eps) + beta
        return out, (x, mu, var, gamma, eps, training), new

    def batchnorm_backward(dout, cache):  # the long way round the graph, node by node
        x, mu, var, gamma, eps, training = cache
        n = len(x)
        inv = 1 / np.sqrt(var + eps)
        x_hat = (x - mu) * inv
        dx_hat = dout * gamma
        if not training:
            return dx_hat * inv, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
        dvar = (dx_hat * (x - mu)).sum(axis=0) * -0.5 * inv**3
        dmu = -(dx_hat * inv).sum(axis=0) + dvar * -2 * (x - mu).mean(axis=0)
        dx = dx_hat * inv + dvar * 2 * (x - mu) / n + dmu / n
        return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)

    return locals()


@pytest.mark.parametrize("name", ["dropout_backward", "batchnorm_backward"])
def test_right_backwards_written_another_way_get_no_spurious_note(name):
    ours = _solutions()
    forward = ours[CATALOGUE[name].forward]
    for seed in range(15):
        for hidden in (False, True):
            report = CATALOGUE.evaluate(name, ours[name], forward, seed=seed, hidden=hidden)
            assert report.passed and "disagrees" not in report.message, str(report)


def test_a_right_batchnorm_backward_of_a_wrong_forward_blames_the_forward():
    ours = _solutions()

    def forward_eps_outside(x, gamma, beta, running, training, momentum=0.9, eps=1e-5):
        out, cache, new = ours["batchnorm_forward"](x, gamma, beta, running, training, momentum, eps)
        mu, var = (x.mean(axis=0), x.var(axis=0)) if training else (running["mean"], running["var"])
        return gamma * (x - mu) / (np.sqrt(var) + eps) + beta, cache, new

    report = CATALOGUE.evaluate("batchnorm_backward", ours["batchnorm_backward"], forward_eps_outside)
    assert "batchnorm_forward" in report.message and ("disagrees" in report.message or "forward" in report.message)


def test_the_running_statistics_mutated_in_place_are_caught():
    ours = _solutions()

    def mutates(x, gamma, beta, running, training, momentum=0.9, eps=1e-5):
        out, cache, new = ours["batchnorm_forward"](x, gamma, beta, running, training, momentum, eps)
        if training:
            running["mean"] *= momentum
            running["mean"] += (1 - momentum) * x.mean(axis=0)
            new = {"mean": running["mean"], "var": new["var"]}
        return out, cache, new

    report = CATALOGUE.evaluate("batchnorm_forward", mutates)
    assert report.status == "failed" and 'modified running["mean"] in place' in report.message, report.message

    def replaces(x, gamma, beta, running, training, momentum=0.9, eps=1e-5):
        out, cache, new = ours["batchnorm_forward"](x, gamma, beta, running, training, momentum, eps)
        running.update(new)
        return out, cache, running

    report = CATALOGUE.evaluate("batchnorm_forward", replaces)
    assert report.status == "failed" and "changed the dict running" in report.message, report.message


def test_a_dropout_that_draws_its_mask_another_way_is_told_how_to_draw():
    def binomial(x, drop_prob, training, rng):
        if not training:
            return x.copy(), None
        return x * rng.binomial(1, 1 - drop_prob, size=x.shape) / (1 - drop_prob), None

    report = CATALOGUE.evaluate("dropout_forward", binomial)
    assert report.status == "failed"


def test_dropout_keeps_the_mean_and_the_fraction_statistically():
    stats = viz.dropout_statistics(_solutions()["dropout_forward"], drop_prob=0.3, shape=(1000, 100))
    assert stats["who"] == "yours"
    assert abs(stats["kept"] - 0.7) < 5 * np.sqrt(0.21 / 1e5)  # five standard errors of a Bernoulli mean
    assert abs(stats["mean_train"] - 1.0) < 5 * np.sqrt(0.3 / 0.7 / 1e5) and stats["mean_eval"] == 1.0


def test_an_initialisation_for_the_wrong_activation_falls_out_of_the_band():
    xavier_for_all = lambda fan_in, fan_out, activation, rng: rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / (fan_in + fan_out))  # noqa: E731
    report = CATALOGUE.evaluate("variance_preserving_init", xavier_for_all)
    assert report.status == "failed" and "-1" in report.message


def test_an_initialisation_of_the_wrong_shape_is_explained():
    transposed = lambda fan_in, fan_out, activation, rng: reg.variance_preserving_reference(fan_out, fan_in, activation, rng)  # noqa: E731
    report = UNGUARDED.evaluate("variance_preserving_init", transposed)  # it calls nnlib's init itself
    assert report.status == "failed"
    assert "should return a float64 array of shape (300, 256), got an array of shape (256, 300)" in report.message
    single = lambda fan_in, fan_out, activation, rng: reg.variance_preserving_reference(fan_in, fan_out, activation, rng).astype(np.float32)  # noqa: E731
    report = UNGUARDED.evaluate("variance_preserving_init", single)
    assert report.status == "failed" and "of dtype float32" in report.message, report.message


def test_a_network_below_the_threshold_fails_the_synthesis():
    def too_short(x, y, rng):
        return reg.train_digits_reference(x, y, rng, epochs=1, lr=0.01)

    report = UNGUARDED.evaluate("train_digits", too_short)  # nnlib's pieces, trained too little
    assert report.status == "failed" and "held-out accuracy" in report.message


def test_the_synthesis_accuracy_is_measured_without_calling_the_forbidden_functions():
    xt, yt, xv, yv, _ = reg.train_digits_cases()[0].draw(np.random.default_rng(0))
    params = reg.train_digits_reference(xt, yt, np.random.default_rng(0))
    z = xt @ params["W1"] + params["b1"]
    expected, _, _ = normalization.batchnorm_forward(
        xv @ params["W1"] + params["b1"], params["gamma"], params["beta"],
        {"mean": z.mean(axis=0), "var": z.var(axis=0)}, training=False)
    scores = np.maximum(expected, 0) @ params["W2"] + params["b2"]
    assert reg.digits_accuracy(params, xt, xv, yv) == np.mean(np.argmax(scores, axis=1) == yv)
    assert viz.digits_network_accuracy(params, xt, xv, yv) == reg.digits_accuracy(params, xt, xv, yv)


# -- the plots and widget, headless -------------------------------------------------------------------


def _png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=30)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def small():
    x, y, xv, yv = viz.digits_split(100, 100)
    return x, y, xv, yv


def test_training_helpers_fall_back_to_nnlib_while_unsolved(small):
    loss_fn, loop, who = viz.pick_training(stub, stub)
    assert loss_fn is viz.reference_regularized_loss and loop is viz.reference_minibatch_sgd and "nnlib's" in who
    loss_fn, loop, who = viz.pick_training(reg.regularized_loss_reference, reg.minibatch_sgd_reference)
    assert who == "yours regularized_loss, yours minibatch_sgd"
    broken = lambda *args: 1 / 0  # noqa: E731
    assert "raised ZeroDivisionError" in viz.pick_training(broken, None)[2]


def test_the_lambda_sweep_shrinks_the_weights_and_draws(small):
    sweep = viz.lambda_sweep(small, [0.0, 0.1], regularized_loss=stub, minibatch_sgd=stub, epochs=5)
    assert np.abs(sweep["weights"][0.1]).mean() < np.abs(sweep["weights"][0.0]).mean()
    assert sweep["train"][1] <= sweep["train"][0] + 0.05
    _png(viz.plot_lambda_sweep(sweep))


def test_the_dropout_experiment_uses_the_students_pair_or_nnlibs(small):
    ours = _solutions()
    runs, who = viz.dropout_experiment(small, (0.0, 0.5), dropout_forward=ours["dropout_forward"],
                                       dropout_backward=ours["dropout_backward"], epochs=3)
    assert who.startswith("yours dropout") and set(runs) == {"drop_prob = 0", "drop_prob = 0.5"}
    runs_ref, who_ref = viz.dropout_experiment(small, (0.0, 0.5), dropout_forward=stub, dropout_backward=stub, epochs=3)
    assert who_ref.startswith("nnlib's")
    _png(viz.plot_curves(runs_ref))


def test_the_activation_spread_separates_the_three_initialisations():
    fig = viz.plot_activation_spread(stub, width=128, depth=12)
    assert fig.spreads["relu", "0.01 * randn"][-1] < 1e-6 < 1e6 < fig.spreads["relu", "randn"][-1]
    assert 0.1 < fig.spreads["relu", "variance-preserving"][-1] < 10
    assert fig.spreads["tanh", "randn"][0] > 10
    _png(fig)


def test_gradient_norms_vanish_for_the_deep_sigmoid_and_batchnorm_restores_them(small):
    x, y = small[0], small[1]
    ours = _solutions()
    fig = viz.plot_gradient_norms(x, y, depth=8, width=32, batchnorm_forward=ours["batchnorm_forward"],
                                  batchnorm_backward=ours["batchnorm_backward"])
    plain = fig.norms["sigmoid", "variance-preserving", False]
    normalised = fig.norms["sigmoid", "variance-preserving", True]
    assert plain[0] / plain[-1] < 1e-3 and 0.1 < normalised[0] / normalised[-1] < 10
    assert "batchnorm: yours" in fig._suptitle.get_text()
    assert "batchnorm: nnlib's" in viz.plot_gradient_norms(x, y, depth=3, width=8)._suptitle.get_text()
    _png(fig)


def test_gradient_norms_use_the_students_batchnorm_backward():
    x = np.random.default_rng(0).standard_normal((20, 5))
    y = np.arange(20) % 3
    ours = _solutions()
    reference = viz.gradient_norms(x, y, depth=3, width=6, batchnorm=True)
    mine = viz.gradient_norms(x, y, depth=3, width=6, batchnorm=True,
                              batchnorm_pair=(ours["batchnorm_forward"], ours["batchnorm_backward"]))
    np.testing.assert_allclose(mine, reference, rtol=1e-9)
    wrong = viz.gradient_norms(x, y, depth=3, width=6, batchnorm=True,
                               batchnorm_pair=(ours["batchnorm_forward"], lambda d, c: (d, d.sum(0), d.sum(0))))
    assert not np.allclose(wrong, reference)


def test_the_widget_redraws_when_a_control_moves(small):
    pytest.importorskip("ipywidgets")
    box = viz.gradient_norms_widget(small[0][:50], small[1][:50])
    first = box.norms
    depth, _ = box.children[0].children
    depth.value = 4
    assert len(box.norms) == 4 and len(first) == 10
    _, bn = box.children[1].children
    bn.value = True
    assert len(box.norms) == 4


def test_batchnorm_rescues_the_deep_sigmoid_network():
    data = viz.digits_split(500, 200)
    runs = viz.deep_sigmoid_experiment(data, depth=8, width=32, epochs=4)
    assert runs["without batchnorm"]["val_accuracy"][-1] < 0.25 < 0.5 < runs["with batchnorm"]["val_accuracy"][-1]


def test_the_catalogue_and_nnlib_agree_on_the_dropout_draw():
    x = np.ones((4, 5))
    rng = reg.SeededGenerator(3)
    (expected,) = reg.dropout_forward_expected(x, 0.4, True, rng)
    out, _ = regularization.dropout_forward(x, 0.4, training=True, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(expected, out)
    assert repr(rng) == "np.random.default_rng(3)"


def test_the_synthesis_reference_trains_in_the_stated_time_and_keys():
    xt, yt, _, _, _ = reg.train_digits_cases()[0].draw(np.random.default_rng(0))
    params = reg.train_digits_reference(xt, yt, np.random.default_rng(1))
    assert set(params) == set(reg.DIGITS_KEYS) and params["W1"].shape == (256, 64)
    assert dense.TWO_LAYER_KEYS == ("W1", "b1", "W2", "b2")


def test_calling_nnlibs_minibatch_loop_is_caught():
    from nnlib import optim

    def borrowed(loss_fn, params, x, y, lr, batch_size, epochs, rng):
        return optim.minibatch_sgd(loss_fn, params, x, y, lr=lr, batch_size=batch_size, epochs=epochs, rng=rng)

    report = CATALOGUE.evaluate("minibatch_sgd", borrowed)
    assert report.status == "failed" and "nnlib.optim.minibatch_sgd" in report.message, report.message


# -- a second reviewer's wrong answers (each earned points before the fix next to it) -----------------


def _sol(name):
    return _solutions()[name]


@pytest.mark.parametrize("hidden", [False, True], ids=["visible", "hidden"])
def test_an_evaluation_dropout_that_returns_x_itself_or_draws_is_rejected(hidden):
    right = _sol("dropout_forward")

    def same_object(x, drop_prob, training, rng):
        return (x, None) if not training else right(x, drop_prob, training, rng)

    def draws_anyway(x, drop_prob, training, rng):
        if not training:
            rng.random(x.shape)
            return x.copy(), None
        return right(x, drop_prob, training, rng)

    report = CATALOGUE.evaluate("dropout_forward", same_object, hidden=hidden)
    assert report.status == "failed" and "as a new array" in report.message, report.message
    report = CATALOGUE.evaluate("dropout_forward", draws_anyway, hidden=hidden)
    assert report.status == "failed" and "draws nothing" in report.message, report.message


def test_a_dropout_mask_shared_by_the_batch_or_kept_on_the_wrong_side_is_named():
    def shared(x, drop_prob, training, rng):
        if not training:
            return x.copy(), None
        return x * (rng.random(x.shape[-1]) >= drop_prob) / (1 - drop_prob), None

    def other_side(x, drop_prob, training, rng):
        if not training:
            return x.copy(), None
        return x * (rng.random(x.shape) < 1 - drop_prob) / (1 - drop_prob), None

    report = CATALOGUE.evaluate("dropout_forward", shared)
    assert report.status == "failed" and "shared by every example" in report.message, report.message
    report = CATALOGUE.evaluate("dropout_forward", other_side)
    assert report.status == "failed" and "u[i] >= drop_prob" in report.message, report.message


def test_a_running_variance_averaged_from_the_unbiased_variance_is_named():
    right = _sol("batchnorm_forward")

    def pytorch_running(x, gamma, beta, running, training, momentum=0.9, eps=1e-5):
        out, cache, new = right(x, gamma, beta, running, training, momentum, eps)
        if training:
            new = {"mean": new["mean"], "var": momentum * running["var"] + (1 - momentum) * x.var(axis=0, ddof=1)}
        return out, cache, new

    report = CATALOGUE.evaluate("batchnorm_forward", pytorch_running)
    assert report.status == "failed" and "PyTorch" in report.message, report.message


def test_a_batchnorm_backward_with_gamma_on_the_direct_path_only_is_named():
    def gamma_direct(dout, cache):
        x_hat, gamma, inv_std, training = cache[:4]  # nnlib's cache
        if training:
            dx = inv_std * (gamma * dout - dout.mean(axis=0) - x_hat * (dout * x_hat).mean(axis=0))
        else:
            dx = gamma * inv_std * dout
        return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)

    report = UNGUARDED.evaluate("batchnorm_backward", gamma_direct, reg.batchnorm_forward_solution)
    assert report.status == "failed" and "gamma multiplies only the direct path" in report.message, report.message


@pytest.mark.parametrize("hidden", [False, True], ids=["visible", "hidden"])
def test_an_initialisation_on_fan_out_or_a_hard_coded_width_falls_out_of_the_band(hidden):
    def fan_out_for_relu(fan_in, fan_out, activation, rng):
        variance = 2 / fan_out if activation == "relu" else 2 / (fan_in + fan_out)
        return np.sqrt(variance) * rng.standard_normal((fan_in, fan_out))

    def width_256(fan_in, fan_out, activation, rng):
        return np.sqrt(2 / 256 if activation == "relu" else 1 / 256) * rng.standard_normal((fan_in, fan_out))

    for wrong in (fan_out_for_relu, width_256):  # both passed every case, width_256 every visible one
        report = CATALOGUE.evaluate("variance_preserving_init", wrong, hidden=hidden)
        assert report.status == "failed", wrong.__name__


def test_right_initialisations_in_other_styles_stay_in_the_band():
    def he_uniform(fan_in, fan_out, activation, rng):
        variance = 2 / fan_in if activation == "relu" else 2 / (fan_in + fan_out)
        return rng.uniform(-1, 1, (fan_in, fan_out)) * np.sqrt(3 * variance)

    for hidden in (False, True):
        assert CATALOGUE.evaluate("variance_preserving_init", he_uniform, hidden=hidden).passed


@pytest.mark.parametrize("hidden", [False, True], ids=["visible", "hidden"])
def test_a_synthesis_that_trains_on_digits_it_was_not_given_fails(hidden):
    """Loading the shipped digits inside train_digits (the held-out split included) reached the threshold."""
    from nnlib.data import load_digits

    def own_data(x, y, rng):
        d = load_digits()
        return reg.train_digits_reference(d["x_test"][:1500].reshape(1500, -1).astype(np.float64),
                                          d["y_test"][:1500], rng, epochs=3)

    report = UNGUARDED.evaluate("train_digits", own_data, hidden=hidden)
    assert report.status == "failed" and "held-out accuracy" in report.message, report.message
