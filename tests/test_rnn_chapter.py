"""Chapter 6, recurrent networks and BPTT: the notebook's points and teaching structure, what the
catalogue checks beyond the generic tests (tests/test_exercises.py), and the plots and widget, headless.

The structure every chapter's notebook shares is tested in tests/test_notebook_structure.py; the
notebook itself runs under nbval (``pytest --nbval-lax solutions/06_rnn``).
"""

import io
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from test_notebook_structure import CHAPTERS, cell_with_id, graded_cells, nbgrader, notebook  # noqa: E402

from autograder.exercises import rnn as exercises  # noqa: E402
from nnlib import activations as act  # noqa: E402
from nnlib import data, rnn  # noqa: E402
from nnlib.viz import rnn as viz  # noqa: E402

pytestmark = pytest.mark.ch06

(CHAPTER,) = [c for c in CHAPTERS if c.name == "06_rnn"]
CATALOGUE = exercises.CATALOGUE
TOTAL_POINTS = 25
POINTS = {"rnn_step_forward": 2, "rnn_step_backward": 4, "rnn_forward": 2, "rnn_backward": 5, "clip_grad_norm": 3,
          "train_tbptt": 3, "fit_sine": 3, "written_vanishing": 3}


def stub(*args, **kwargs):
    raise NotImplementedError


# -- the notebook: points, written answer, hints, predictions, Run All -------------------------------


def test_points_add_up_to_the_announced_total():
    nb = notebook(CHAPTER)
    points = {nbgrader(c)["grade_id"].removeprefix("test_"): nbgrader(c)["points"] for c in graded_cells(nb)}
    assert points == POINTS
    assert sum(points.values()) == TOTAL_POINTS
    assert f"{TOTAL_POINTS} points" in cell_with_id(nb, "intro_overview").source


def test_the_written_answer_is_a_manually_graded_markdown_cell_after_its_question():
    nb = notebook(CHAPTER)
    answer = cell_with_id(nb, "written_vanishing")
    assert answer.cell_type == "markdown"
    assert nbgrader(answer) == {"grade": True, "solution": True, "task": False, "locked": False, "points": 3,
                                "grade_id": "written_vanishing", "schema_version": 3}
    source = answer.source
    assert source.startswith("### BEGIN SOLUTION\n") and source.rstrip().endswith("### END SOLUTION")
    assert "**Rubric (3 points):**" in source
    question = nb.cells[nb.cells.index(answer) - 1]
    assert question.cell_type == "markdown" and nbgrader(question)["locked"] and "3 points" in question.source


def test_graded_cells_let_run_all_continue():
    for cell in graded_cells(notebook(CHAPTER)):
        if cell.cell_type == "code":
            assert "raises-exception" in cell.metadata.get("tags", []), nbgrader(cell)["grade_id"]


@pytest.mark.parametrize("name", list(CATALOGUE.exercises))
def test_every_statement_has_two_folded_hints(name):
    statement = cell_with_id(notebook(CHAPTER), f"{name}_statement").source
    assert "<details><summary>Hint 1</summary>" in statement and "<details><summary>Hint 2</summary>" in statement
    hints = re.findall(r"<details>.*?</details>", statement, re.S)
    assert not any("```" in h or "return " in h for h in hints), "a hint gives direction, never code"


def test_the_backward_statements_give_the_step_not_its_gradient():
    nb = notebook(CHAPTER)
    for name in ("rnn_step_backward", "rnn_backward"):
        text = cell_with_id(nb, f"{name}_statement").source.split("<details>")[0]
        for formula in ("@ w_h.T", "@ w_x.T", "x.T @", "1 - h", "h * (1 - h)", "sum(axis=0)"):
            assert formula not in text, f"{name}'s statement hands over {formula!r}"


def test_every_predict_prompt_is_followed_by_the_experiment():
    cells = notebook(CHAPTER).cells
    prompts = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("**Predict.**")]
    assert len(prompts) >= 4
    for i in prompts:
        assert cells[i + 1].cell_type == "code"


def test_the_introduction_says_how_long_the_slowest_cell_takes():
    text = cell_with_id(notebook(CHAPTER), "intro_overview").source
    assert "slowest" in text and "seconds" in text


# -- the catalogue: the mistakes of the issue, each by name -------------------------------------------

#: Each mistake the chapter's issue lists, and the words of the cause that names it.
NAMED_MISTAKES = [
    ("rnn_backward", "not summed over time"),
    ("rnn_backward", "hidden-state gradient is not carried back"),
    ("rnn_backward", "replaces the step's own gradient"),
    ("rnn_backward", "evaluated at the step's output"),
    ("rnn_backward", "applied to the pre-activation"),
    ("rnn_step_backward", "evaluated at the step's output"),
    ("rnn_step_backward", "applied to the pre-activation"),
    ("rnn_forward", "(T, N, H)"),
    ("rnn_backward", "(T, N, D)"),
    ("clip_grad_norm", "clipped on its own"),
    ("rnn_backward", "gradient of h0 is dropped"),
]


@pytest.mark.parametrize("name, words", NAMED_MISTAKES)
def test_each_mistake_of_the_issue_is_in_the_catalogue_and_diagnosed(name, words):
    (mistake,) = [m for m in CATALOGUE[name].mistakes if words in m.cause]
    exercise = CATALOGUE[name]
    forward = exercise.forward_reference or (CATALOGUE[exercise.forward].answer if exercise.forward else None)
    report = exercises.Catalogue(CATALOGUE.chapter, CATALOGUE.exercises.values()).evaluate(
        name, mistake.implementation, forward)
    assert report.status == "failed" and f"Likely cause: {mistake.cause}" in report.message


def _clip_in_place(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
    if total > max_norm:
        for g in grads.values():
            g *= max_norm / total
    return grads, total


def test_clipping_in_place_is_caught_and_named():
    report = CATALOGUE.evaluate("clip_grad_norm", _clip_in_place)
    assert report.status == "failed" and "modified its input grads['w_x'] in place" in report.message


def test_returning_the_given_arrays_when_nothing_is_clipped_is_caught():
    def lazy(grads, max_norm):
        total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
        if total <= max_norm:
            return dict(grads), total
        return {k: g * (max_norm / total) for k, g in grads.items()}, total

    report = CATALOGUE.evaluate("clip_grad_norm", lazy)
    assert report.status == "failed" and "return new arrays, even when nothing needs scaling" in report.message


def test_a_sequence_forward_in_time_major_layout_fails_even_when_n_equals_t():
    def time_major(x, h0, w_x, w_h, b, activation="tanh"):
        h, _ = exercises.forward_answer(x, h0, w_x, w_h, b, activation)
        return np.ascontiguousarray(h.transpose(1, 0, 2)), None

    rng = np.random.default_rng(0)
    x, h0 = rng.standard_normal((3, 3, 2)), rng.standard_normal((3, 4))
    w_x, w_h, b = rng.standard_normal((2, 4)), 0.5 * rng.standard_normal((4, 4)), np.zeros(4)
    # N = T: every shape fits, the values do not
    assert time_major(x, h0, w_x, w_h, b)[0].shape == (3, 3, 4)
    assert not np.allclose(time_major(x, h0, w_x, w_h, b)[0], rnn.rnn_forward(x, h0, w_x, w_h, b)[0])
    report = exercises.Catalogue(CATALOGUE.chapter, CATALOGUE.exercises.values()).evaluate("rnn_forward", time_major)
    assert report.status == "failed" and "(T, N, H)" in report.message


def test_calling_nnlib_is_caught():
    def borrowed(x, h0, w_x, w_h, b, activation="tanh"):
        return rnn.rnn_forward(x, h0, w_x, w_h, b, activation=activation)

    report = CATALOGUE.evaluate("rnn_forward", borrowed)
    assert report.status == "failed" and "calls nnlib's answer nnlib.rnn.rnn_forward" in report.message


def test_a_fit_above_the_threshold_fails_with_its_held_out_error():
    unguarded = exercises.Catalogue(CATALOGUE.chapter, CATALOGUE.exercises.values())  # nnlib-built fits
    report = unguarded.evaluate("fit_sine", exercises.fit_sine_with(num_epochs=2, lr=0.05))
    assert report.status == "failed" and "held-out mean squared error" in report.message
    assert "expected 0.025" in report.message


def _solutions():
    """Right answers written the way the notebook's solutions are (not nnlib's functions)."""

    def rnn_step_forward(x, h_prev, w_x, w_h, b, activation="tanh"):
        h = act.tanh(h_prev @ w_h + x @ w_x + b) if activation == "tanh" else act.sigmoid(h_prev @ w_h + x @ w_x + b)
        return h, (x, h_prev, w_x, w_h, h, activation)

    def rnn_step_backward(dout, cache):
        x, h_prev, w_x, w_h, h, activation = cache
        da = dout * (1 - h * h if activation == "tanh" else h * (1 - h))
        return da @ w_x.T, da @ w_h.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)

    def rnn_forward(x, h0, w_x, w_h, b, activation="tanh"):
        states, caches, state = [], [], h0
        for t in range(x.shape[1]):
            state, cache = rnn_step_forward(x[:, t], state, w_x, w_h, b, activation)
            states.append(state)
            caches.append(cache)
        return np.stack(states, axis=1), caches

    def rnn_backward(dout, caches):
        carried, sums, dxs = np.zeros_like(dout[:, 0]), 0, []
        for t in reversed(range(len(caches))):
            dx, carried, *grads = rnn_step_backward(dout[:, t] + carried, caches[t])
            dxs.insert(0, dx)
            sums = grads if sums == 0 else [s + g for s, g in zip(sums, grads)]
        return (np.stack(dxs, axis=1), carried, *sums)

    return locals()


@pytest.mark.parametrize("name", ["rnn_step_backward", "rnn_backward"])
def test_right_answers_get_no_spurious_note_from_the_numerical_gradient(name):
    ours = _solutions()
    for seed in range(10):
        for hidden in (False, True):
            report = CATALOGUE.evaluate(name, ours[name], ours[CATALOGUE[name].forward], seed=seed, hidden=hidden)
            assert report.passed and "disagrees" not in report.message, str(report)


@pytest.mark.parametrize("name", ["rnn_step_backward", "rnn_backward"])
def test_a_right_backward_on_a_forward_without_bias_blames_the_forward(name):
    ours = _solutions()
    forward = CATALOGUE[name].forward

    def without_bias(x, h, w_x, w_h, b, activation="tanh"):
        return ours[forward](x, h, w_x, w_h, np.zeros_like(b), activation)

    report = CATALOGUE.evaluate(name, ours[name], without_bias)
    assert f"because your {forward} is wrong" in report.message, report.message


# -- nnlib.viz.rnn: the measurement, the widget, the training helpers ---------------------------------


def _png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=40)
    return buffer.getvalue()


def test_jacobian_norms_are_powers_of_the_radius_in_the_linear_regime():
    for radius in (0.8, 1.0, 1.2):
        norms = viz.jacobian_norms(radius, T=12, input_scale=0.0)
        np.testing.assert_allclose(norms, radius ** np.arange(1, 13), rtol=1e-9)


def test_jacobian_norms_use_the_students_functions_and_fall_back_to_nnlib():
    ours = _solutions()
    np.testing.assert_allclose(viz.jacobian_norms(1.1, ours["rnn_forward"], ours["rnn_backward"], T=8, input_scale=0.5),
                               viz.jacobian_norms(1.1, T=8, input_scale=0.5), rtol=1e-9)
    assert viz.rnn_functions(ours["rnn_forward"], ours["rnn_backward"])[2] == "yours"
    assert viz.rnn_functions(stub, stub)[2].startswith("nnlib's")
    np.testing.assert_allclose(viz.jacobian_norms(0.9, stub, stub, T=5), 0.9 ** np.arange(1, 6), rtol=1e-9)


def test_saturation_makes_even_a_radius_above_one_vanish():
    norms = viz.jacobian_norms(1.2, T=40, input_scale=0.5)
    assert norms[-1] < 1e-2 * norms[0]


def test_gradient_norm_plot_is_logarithmic_and_says_whose_functions():
    fig = viz.plot_gradient_norms(stub, stub, T=10)
    assert fig.axes[0].get_yscale() == "log" and set(fig.norms) == {0.8, 1.0, 1.2}
    assert "nnlib's" in fig.axes[0].get_title()
    ours = _solutions()
    assert "yours" in viz.plot_gradient_norms(ours["rnn_forward"], ours["rnn_backward"], T=10).axes[0].get_title()
    _png(fig)


def test_spectral_radius_widget_redraws_with_the_slider():
    ipywidgets = pytest.importorskip("ipywidgets")
    box = viz.spectral_radius_widget(stub, stub, T=10)
    assert isinstance(box.slider, ipywidgets.FloatSlider) and (box.slider.min, box.slider.max) == (0.5, 1.5)
    first = box.figure
    box.slider.value = 0.6
    assert box.figure is not first
    np.testing.assert_allclose(box.figure.norms, 0.6 ** np.arange(1, 11), rtol=1e-9)
    box.activation.value = "sigmoid"
    assert "sigmoid" in box.figure.axes[0].get_title()


def test_sequence_loss_with_the_students_pieces_is_nnlibs_regression_loss():
    rng = np.random.default_rng(3)
    params = {"w_x": rng.standard_normal((2, 4)), "w_h": 0.5 * rng.standard_normal((4, 4)), "b": rng.standard_normal(4),
              "w_y": rng.standard_normal((4, 1)), "b_y": rng.standard_normal(1)}
    x, target, h0 = rng.standard_normal((3, 5, 2)), rng.standard_normal((3, 5, 1)), rng.standard_normal((3, 4))
    expected = rnn.rnn_regression_loss(params, x, target, h0)
    ours = _solutions()
    for loss_fn, _ in (viz.sequence_loss_with(ours["rnn_forward"], ours["rnn_backward"]), viz.sequence_loss_with(stub, stub)):
        loss, grads, h_last = loss_fn(params, x, target, h0)
        assert loss == pytest.approx(expected[0], rel=1e-12)
        for k in params:
            np.testing.assert_allclose(grads[k], expected[1][k], rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(h_last, expected[2], rtol=1e-12)


def test_clipping_rescues_the_training_run_of_section_6():
    x, y = data.noisy_sine(64, 60, rng=np.random.default_rng(1), noise=0.1)
    xv, yv = data.noisy_sine(64, 60, rng=np.random.default_rng(2), noise=0.1)
    rng = np.random.default_rng(2)
    params0 = {"w_x": 0.5 * rng.standard_normal((1, 16)), "w_h": viz.recurrent_weights(0.9, 16, rng),
               "b": np.zeros(16), "w_y": rng.standard_normal((16, 1)) / 4, "b_y": np.zeros(1)}
    loss_fn, _ = viz.sequence_loss_with()
    runs = {}
    for max_norm in (None, 0.5):
        *_, heldout, who = viz.train_with_heldout(stub, loss_fn, params0, x, y, xv, yv, lr=0.6, chunk=20,
                                                  num_epochs=30, max_norm=max_norm)
        runs[max_norm] = heldout
        assert who.startswith("nnlib's")
    assert not runs[None][-1] < 1.0  # diverged
    assert runs[0.5][-1] < exercises.SINE_THRESHOLD < np.mean((xv - yv) ** 2)
    fig = viz.plot_training_curves({"no clipping": (runs[None], runs[None]), "clipped": (runs[0.5], runs[0.5])},
                                   baseline=0.045, threshold=0.025)
    assert fig.axes[0].get_yscale() == "log"
    _png(fig)


def test_prediction_plot_reports_the_error_of_one_held_out_wave():
    x, y = data.noisy_sine(4, 30, rng=np.random.default_rng(5), noise=0.1)
    params = exercises.fit_sine_with(num_epochs=3)(x, y, np.random.default_rng(0))
    fig = viz.plot_predictions(params, x, y, index=1)
    assert "squared error" in fig.axes[0].get_title()
    _png(fig)


def test_the_checks_need_none_of_the_functions_the_chapter_asks_for():
    # The grader's sandbox stubs nnlib's answers to the graded chapter, except those the checks need inside it.
    sandbox = pytest.importorskip("autograder.sandbox")
    assert sandbox.needed_by_checks(CATALOGUE) == set()


def test_the_checks_loss_and_held_out_error_are_nnlibs():
    rng = np.random.default_rng(4)
    params = {"w_x": rng.standard_normal((1, 5)), "w_h": 0.5 * rng.standard_normal((5, 5)), "b": rng.standard_normal(5),
              "w_y": rng.standard_normal((5, 1)), "b_y": rng.standard_normal(1)}
    x, target, h0 = rng.standard_normal((3, 6, 1)), rng.standard_normal((3, 6, 1)), rng.standard_normal((3, 5))
    expected = rnn.rnn_regression_loss(params, x, target, h0)
    actual = exercises.regression_loss_reference(params, x, target, h0)
    assert actual[0] == pytest.approx(expected[0], rel=1e-12)
    for k in params:
        np.testing.assert_allclose(actual[1][k], expected[1][k], rtol=1e-10, atol=1e-15)
    assert exercises.heldout_mse(params, x, target) == pytest.approx(
        rnn.rnn_regression_loss(params, x, target, np.zeros((3, 5)))[0], rel=1e-12)


def test_memory_horizon_of_a_trained_network_fades_and_uses_the_students_functions():
    x, y, xv, _ = exercises.sine_data(1, 2)
    params = exercises.fit_sine_with(num_epochs=10)(x, y, np.random.default_rng(0))
    fig = viz.plot_memory_horizon(params, xv, stub, stub, index=3)
    assert fig.norms.shape == (60,) and fig.norms[-1] < 1e-2 * fig.norms[0]
    assert "nnlib's" in fig.axes[0].get_title() and fig.axes[0].get_yscale() == "log"
    ours = _solutions()
    mine = viz.plot_memory_horizon(params, xv, ours["rnn_forward"], ours["rnn_backward"], index=3)
    np.testing.assert_allclose(mine.norms, fig.norms, rtol=1e-9)
    _png(fig)


# -- second review: wrong answers that earned points, blame, messages --------------------------------


def _clip_with_epsilon(grads, max_norm):
    """PyTorch's clip_grad_norm_: max_norm / (total + 1e-6), capped at 1."""
    total = float(np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads.values())))
    scale = min(1.0, max_norm / (total + 1e-6))
    return {k: g * g.dtype.type(scale) for k, g in grads.items()}, total


def test_clipping_with_an_epsilon_fails_on_every_seed_and_is_named():
    # It passed or failed by the luck of the seed (a relative error of 1e-6 / total_norm against 1e-7):
    # graded on a fresh seed, it earned the points about half the time.
    for seed in range(8):
        for hidden in (False, True):
            report = CATALOGUE.evaluate("clip_grad_norm", _clip_with_epsilon, seed=seed, hidden=hidden)
            assert report.status == "failed", str(report)
    assert "epsilon in its denominator" in CATALOGUE.evaluate("clip_grad_norm", _clip_with_epsilon).message


def test_a_wrong_clip_grad_norm_costs_no_points_in_train_tbptt():
    # Blame lands on the right function: the check passes its own clipping as `clip`.
    def per_tensor(grads, max_norm):
        return {k: g * min(1.0, max_norm / np.linalg.norm(g)) for k, g in grads.items()}, 0.0

    def train_tbptt(loss_fn, params, x, target, lr, chunk, num_epochs, max_norm=None, clip=None):
        clip = per_tensor if clip is None else clip  # the notebook's default: the student's clip_grad_norm
        N, T, _ = x.shape
        h, losses = None, []
        for _ in range(num_epochs):
            h = np.zeros((N, params["w_h"].shape[0]))
            for start in range(0, T, chunk):
                loss, grads, h = loss_fn(params, x[:, start:start + chunk], target[:, start:start + chunk], h)
                losses.append(loss)
                if max_norm is not None:
                    grads, _ = clip(grads, max_norm)
                params = {k: params[k] - lr * grads[k] for k in params}
        return params, losses

    for hidden in (False, True):
        report = CATALOGUE.evaluate("train_tbptt", train_tbptt, hidden=hidden)
        assert report.passed, str(report)


def test_the_notebooks_train_tbptt_takes_the_clipping_function():
    nb = notebook(CHAPTER)
    solution = cell_with_id(nb, "train_tbptt_solution").source
    signature, _, body = solution.partition("### BEGIN SOLUTION")
    assert "max_norm=None, clip=None)" in signature and "clip = clip_grad_norm" in signature
    assert "clip(grads, max_norm)" in body
    statement = cell_with_id(nb, "train_tbptt_statement").source.split("<details>")[0]
    assert "`clip(grads, max_norm)`" in statement
    # the statement no longer hands over the loop's lines
    assert "loss, grads, h = loss_fn" not in statement and "range(0, T, chunk)" not in cell_with_id(
        nb, "train_tbptt_statement").source


def test_a_bptt_that_drops_the_last_steps_own_gradient_is_named():
    ours = _solutions()

    def rnn_backward(dout, caches):
        carried, sums, dxs = np.zeros_like(dout[:, 0]), None, []
        for t in reversed(range(len(caches))):
            upstream = carried if t == len(caches) - 1 else dout[:, t] + carried  # dout[:, T-1] forgotten
            dx, carried, *grads = ours["rnn_step_backward"](upstream, caches[t])
            dxs.insert(0, dx)
            sums = grads if sums is None else [s + g for s, g in zip(sums, grads)]
        return (np.stack(dxs, axis=1), carried, *sums)

    report = CATALOGUE.evaluate("rnn_backward", rnn_backward, ours["rnn_forward"])
    assert report.status == "failed" and "dout[:, T-1] is dropped" in report.message


def test_a_bptt_that_leaves_dx_in_reverse_time_order_is_named():
    ours = _solutions()

    def rnn_backward(dout, caches):
        carried, sums, dxs = np.zeros_like(dout[:, 0]), None, []
        for t in reversed(range(len(caches))):
            dx, carried, *grads = ours["rnn_step_backward"](dout[:, t] + carried, caches[t])
            dxs.append(dx)  # never reversed
            sums = grads if sums is None else [s + g for s, g in zip(sums, grads)]
        return (np.stack(dxs, axis=1), carried, *sums)

    report = CATALOGUE.evaluate("rnn_backward", rnn_backward, ours["rnn_forward"])
    assert report.status == "failed" and "reverse time order" in report.message


def _untrained_fit(x, target, rng):
    H = 4
    return {"w_x": np.zeros((1, H)), "w_h": np.zeros((H, H)), "b": np.zeros(H), "w_y": np.zeros((H, 1)),
            "b_y": np.zeros(1)}


@pytest.mark.xfail(not exercises.JUDGED_OUTSIDE, strict=True,
                   reason="needs Exercise.judged in autograder/checks.py: until then fit_sine's held-out error is "
                          "computed in the student's process, and a cell that replaces heldout_mse forges it")
def test_fit_sine_is_judged_from_its_parameters_outside_the_students_process(monkeypatch):
    records = []
    with monkeypatch.context() as patch:  # the student's process: a cell replaced the held-out error
        patch.setattr(exercises, "heldout_mse", lambda *args: 0.0)
        for hidden in (False, True):
            records.append(CATALOGUE.collect("fit_sine", _untrained_fit, seed=7, hidden=hidden))
    for record in records:  # what the grader's own process decides
        (case,) = record["cases"]
        assert len(case["outputs"]["tuple"]) == len(exercises.KEYS)  # the record holds the five parameters
        report = CATALOGUE.judge(record, seed=7)
        assert report.status == "failed" and "held-out mean squared error" in report.message, str(report)


def test_fit_sine_refuses_parameters_it_cannot_judge():
    def huge(x, target, rng):
        H = exercises.MAX_HIDDEN + 1
        return {"w_x": np.zeros((1, H)), "w_h": np.zeros((H, H)), "b": np.zeros(H), "w_y": np.zeros((H, 1)),
                "b_y": np.zeros(1)}

    def misshapen(x, target, rng):
        return {**_untrained_fit(x, target, rng), "w_y": np.zeros((3, 1))}

    assert "1 <= H <= 256" in CATALOGUE.evaluate("fit_sine", huge).message
    assert "do not fit a network" in CATALOGUE.evaluate("fit_sine", misshapen).message


def test_a_forward_that_reads_x_time_first_is_named_on_a_square_case():
    # x[t] instead of x[:, t]: it raises a broadcast error unless N = T, where it runs and is wrong.
    def rnn_forward(x, h0, w_x, w_h, b, activation="tanh"):
        f = np.tanh if activation == "tanh" else act.sigmoid
        states, state = [], h0
        for t in range(x.shape[1]):
            state = f(state @ w_h + x[t] @ w_x + b)
            states.append(state)
        return np.stack(states, axis=1), None

    assert any(c.draw(np.random.default_rng(0))[0].shape[:2] in {(3, 3), (4, 4)} for c in CATALOGUE["rnn_forward"].cases
               if not c.hidden)
    report = CATALOGUE.evaluate("rnn_forward", rnn_forward)
    assert report.status == "failed" and "x is read time-first" in report.message, report.message


def test_fit_sine_on_unwritten_pieces_says_which_is_not_written():
    # The given line of fit_sine used to fall back to nnlib's forward and BPTT, and the check then said
    # "fit_sine calls nnlib's answer nnlib.rnn.rnn_forward" of a student who never called it.
    assert "fallback=False" in cell_with_id(notebook(CHAPTER), "fit_sine_solution").source

    def rnn_forward(*args):
        raise NotImplementedError()

    def rnn_backward(*args):
        raise NotImplementedError()

    def fit_sine(x, target, rng):
        sequence_loss, _ = viz.sequence_loss_with(rnn_forward, rnn_backward, fallback=False)
        params = dict(zip(exercises.KEYS, exercises._params(rng, 1, 8, 1)))
        return rnn.train_tbptt(sequence_loss, params, x, target, lr=0.5, chunk=20, num_epochs=1, max_norm=0.5)[0]

    report = CATALOGUE.evaluate("fit_sine", fit_sine)
    assert report.status == "not attempted" and "rnn_forward still raises NotImplementedError" in report.message


def test_a_train_tbptt_that_ignores_clip_and_calls_a_per_tensor_clip_grad_norm_is_named():
    def per_tensor(grads, max_norm):
        return {k: g * min(1.0, max_norm / np.linalg.norm(g)) for k, g in grads.items()}, 0.0

    def train_tbptt(loss_fn, params, x, target, lr, chunk, num_epochs, max_norm=None, clip=None):
        N, T, _ = x.shape
        losses = []
        for _ in range(num_epochs):
            h = np.zeros((N, params["w_h"].shape[0]))
            for start in range(0, T, chunk):
                loss, grads, h = loss_fn(params, x[:, start:start + chunk], target[:, start:start + chunk], h)
                losses.append(loss)
                if max_norm is not None:
                    grads, _ = per_tensor(grads, max_norm)  # the global clip_grad_norm, not `clip`
                params = {k: params[k] - lr * grads[k] for k in params}
        return params, losses

    report = CATALOGUE.evaluate("train_tbptt", train_tbptt)
    assert report.status == "failed" and "clip with `clip`" in report.message, report.message


def test_clipping_that_knows_only_this_chapters_keys_fails():
    # The statement promises any keys ("w_x", ... in this chapter, any keys in general).
    def five_keys(grads, max_norm):
        keys = ("w_x", "w_h", "b", "w_y", "b_y")
        total = float(np.sqrt(sum(np.sum(np.square(grads[k], dtype=np.float64)) for k in keys)))
        scale = max_norm / total if total > max_norm else 1.0
        return {k: grads[k] * grads[k].dtype.type(scale) for k in keys}, total

    for hidden in (False, True):
        report = CATALOGUE.evaluate("clip_grad_norm", five_keys, hidden=hidden)
        assert report.status == "failed" and "other keys" in report.message, str(report)


def test_the_plots_below_the_synthesis_draw_while_fit_sine_is_not_written():
    # Run All used to stop drawing here: `fitted` was undefined, so the memory-horizon plot raised NameError.
    x, y, xv, _ = exercises.sine_data(1, 2)
    params, who = viz.fit_with(stub, x, y, np.random.default_rng(0))
    assert who.startswith("nnlib's") and exercises.heldout_mse(params, xv, exercises.sine_data(1, 2)[3]) < 0.025
    mine, who = viz.fit_with(lambda x, target, rng: params, x, y, np.random.default_rng(0))
    assert mine is params and who == "your fit_sine"
    assert "viz.fit_with(fit_sine" in "".join(c.source for c in notebook(CHAPTER).cells)
