"""Chapter 2 (loss functions): what is specific to its notebook, and the plotting helpers.

The structure every chapter's notebook shares, and its solutions passing their own checks, are
tested in tests/test_notebook_structure.py (``python -m pytest --nbval-lax solutions/02_losses``
runs the notebook). The plots run headless (matplotlib's Agg backend) and must draw the student's
function, or nnlib's while it is not written yet.
"""

import matplotlib

matplotlib.use("Agg")

import contextlib  # noqa: E402
import io  # noqa: E402
import re  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from test_notebook_structure import CHAPTERS, SOLUTION_REGION, cell_with_id, nbgrader, notebook  # noqa: E402

from autograder.checks import Catalogue  # noqa: E402
from autograder.exercises import losses as catalogue  # noqa: E402
from nnlib import losses as ref  # noqa: E402
from nnlib.viz import losses as viz  # noqa: E402

pytestmark = pytest.mark.ch02

(CHAPTER,) = [c for c in CHAPTERS if c.name == "02_losses"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# -- the notebook: what is specific to this chapter (the rest: tests/test_notebook_structure.py) --------


def graded_code_cells(nb):
    return [c for c in nb.cells if nbgrader(c).get("grade") and c.cell_type == "code"]


def written_answer_cells(nb):
    return [c for c in nb.cells if nbgrader(c).get("grade") and c.cell_type == "markdown"]


def statement_cells(nb):
    return {name: cell_with_id(nb, f"{name}_description") for name in catalogue.CATALOGUE.exercises}


def test_the_intro_counts_points_graded_exercises_and_the_written_question():
    nb = notebook(CHAPTER)
    code_points = [nbgrader(c)["points"] for c in graded_code_cells(nb)]
    written = [nbgrader(c)["points"] for c in written_answer_cells(nb)]
    total = sum(code_points) + sum(written)
    expected = (f"({total} points: {len(code_points)} graded exercises for {sum(code_points)} points, "
                f"and a written question for {sum(written)})")
    assert expected in nb.cells[0].source


def test_graded_cells_let_run_all_continue():
    for cell in graded_code_cells(notebook(CHAPTER)):
        assert "raises-exception" in cell.metadata.get("tags", []), nbgrader(cell)["grade_id"]


def test_the_written_question_is_graded_by_hand_with_a_rubric():
    nb = notebook(CHAPTER)
    (answer,) = written_answer_cells(nb)
    meta = nbgrader(answer)
    assert meta == {"grade": True, "solution": True, "task": False, "locked": False, "points": 3,
                    "grade_id": "written_cross_entropy", "schema_version": 3}
    source = answer.source
    assert source.startswith("### BEGIN SOLUTION\n") and source.rstrip().endswith("### END SOLUTION")
    assert "**Rubric (3 points):**" in source
    question = nb.cells[nb.cells.index(answer) - 1]
    assert question.cell_type == "markdown" and nbgrader(question)["locked"] and "(3 points)" in question.source
    # the point of the question: the gradient, not where the minimum is (the old text had it wrong)
    assert "minimised by the class probability" in source or "minimised at the class probability" in source


def test_every_experiment_is_preceded_by_a_prediction():
    nb = notebook(CHAPTER)
    experiments = 0
    for i, cell in enumerate(nb.cells):
        meta = nbgrader(cell)
        if cell.cell_type != "code" or meta or re.match(r"(#[^\n]*\n)*check\(", cell.source):
            continue  # setup, solutions, graded and check cells
        experiments += 1
        before = nb.cells[i - 1]
        assert before.cell_type == "markdown" and before.source.startswith("**Predict.**"), cell.source[:60]
    assert experiments >= 8


def test_statements_ask_for_the_derivation_with_progressive_hints_and_no_code():
    nb = notebook(CHAPTER)
    for name, cell in statement_cells(nb).items():
        text = cell.source
        hints = re.findall(r"<details><summary>Hint (\d)</summary>(.*?)</details>", text, re.S)
        assert [int(h) for h, _ in hints] == list(range(1, len(hints) + 1)) and len(hints) >= 2, name
        assert "```" not in text and "np.clip(prob" not in text, name  # hints never give the code
        # a student who copies from the statement cannot pass: no line of the solution appears in it
        solution = SOLUTION_REGION.search(cell_with_id(nb, f"{name}_solution").source).group(0)
        for line in solution.splitlines()[1:-1]:
            code = line.strip()
            if len(code) > 12 and not code.startswith("#"):
                assert code not in text, f"{name}: the statement gives the solution's line {code!r}"


def test_the_derivatives_are_asked_for_not_given():
    statements = statement_cells(notebook(CHAPTER))
    given = {
        "mse": [r"\frac{2}{n}"],
        "binary_cross_entropy": [r"\frac{p_i - y_i}{p_i (1 - p_i)}", "(p - t) / (p (1 - p))"],
        "mse_on_sigmoid": [r"\frac{2}{n} (p_i - y_i) \cdot p_i (1 - p_i)"],
        "binary_cross_entropy_with_logits": [r"(\sigma(z) - y) / n", r"\max(z, 0) - z y + \log"],
        "log_sum_exp": [r"m + \log \sum"],
        "softmax_cross_entropy": [r"\mathrm{softmax}(Z) - \mathrm{onehot}(y)", "np.arange(N), y]"],
    }
    for name, formulas in given.items():
        text = statements[name].source.split("<details>")[0]  # the statement, hints aside
        for formula in formulas:
            assert formula not in text, f"{name}'s statement hands over {formula!r}"


def test_the_text_errors_of_issue_7_are_corrected():
    text = "\n".join(c.source for c in notebook(CHAPTER).cells if c.cell_type == "markdown")
    assert "also works for a batch of 256" not in text
    assert "one learning rate does not fit both alike" in text
    assert "left of $z = -2$" not in text and r"left of $z \approx -4$" in text and "$-0.185$ at $z = -2$" in text
    assert "class probability" in text and "For classification, as section 3 shows, it is not enough" not in text
    assert "np.finfo" in text  # the clipping margin exists in the dtype of the array


def test_the_statement_clips_in_the_dtype_of_prob():
    text = statement_cells(notebook(CHAPTER))["binary_cross_entropy"].source
    assert "machine epsilon of prob's" in text and "`eps` is an argument" in text


# -- the catalogue: what each new case is there for ------------------------------------------------


def unguarded():
    return Catalogue("02_losses", catalogue.CATALOGUE.exercises.values())


def first_failure(name, function, hidden=False, seed=0):
    report = unguarded().evaluate(name, function, function if catalogue.CATALOGUE[name].forward else None,
                                  seed=seed, hidden=hidden)
    return report


def test_the_float64_clipping_once_taught_fails_on_a_visible_float32_case():
    """The old statement's np.clip(prob, eps, 1 - eps) passes every float64 case and fails in float32."""
    report = first_failure("binary_cross_entropy", catalogue.bce_float64_eps)
    assert report.status == "failed"
    assert report.message.startswith("On float32 probabilities of exactly 0 and 1")
    hidden = first_failure("binary_cross_entropy", catalogue.bce_float64_eps, hidden=True)
    assert hidden.status == "failed" and "float32" in hidden.message


def test_a_layout_dependent_answer_fails_only_on_the_transposed_view():
    def memory_order(logits, y):
        loss, dlogits = ref.softmax_cross_entropy(logits, y)
        # builds the gradient by filling memory in order: wrong as soon as logits are Fortran-ordered
        out = np.empty_like(logits)
        out.ravel(order="K")[:] = dlogits.ravel(order="C")
        return loss, out

    report = first_failure("softmax_cross_entropy", memory_order)
    assert report.status == "failed" and report.message.startswith("On logits as a transposed view"), report.message


WRONG_ANSWERS = [(e.name, m.implementation) for e in catalogue.EXERCISES for m in e.mistakes]


@pytest.mark.parametrize("name, wrong", WRONG_ANSWERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(WRONG_ANSWERS)])
def test_check_shows_what_grading_will_show(name, wrong):
    """No wrong answer passes the visible check and fails the hidden cases: every hidden family is visible."""
    for seed in (0, 1, 2):
        if first_failure(name, wrong, hidden=True, seed=seed).status == "failed":
            assert first_failure(name, wrong, seed=seed).status == "failed", seed


#: Each hidden case and the visible case of its family (same kind of input, another shape or seed).
HIDDEN_FAMILIES = {
    "mse": {
        "a column of 32 regression targets, shape (32, 1)": "standard normal predictions and targets of shape (4, 5)",
        "values of magnitude 1000, shape (3, 4)": "values of magnitude 1000, shape (4, 3)",
        "a perfect prediction (zero loss and gradient), shape (6, 2)":
            "a perfect prediction (zero loss and gradient), shape (3, 2)",
        "float32 inputs of shape (2, 3, 4)": "float32 3-D inputs of shape (3, 2, 4)",
    },
    "binary_cross_entropy": {
        "probabilities of shape (30,)": "a batch of one, shape (1,)",
        "confident probabilities within 1e-3 of 0 and 1, shape (6, 2)":
            "confident probabilities within 1e-3 of 0 and 1, shape (2, 3)",
        "soft targets in [0, 1], shape (5, 2)": "soft targets in [0, 1], shape (3, 4)",
        "probabilities of exactly 0 and 1, again": "probabilities of exactly 0 and 1 (clipping)",
        "float32 probabilities of exactly 0 and 1, again":
            "float32 probabilities of exactly 0 and 1 (1 - 1e-12 is 1.0 in float32)",
        "probabilities of exactly 0 and 1 with eps=1e-6": "probabilities of exactly 0 and 1 with eps=1e-4",
        "float32 probabilities of exactly 0 and 1 with eps=2**-14":
            "float32 probabilities of exactly 0 and 1 with eps=2**-12 (2.4e-4, above float32's machine epsilon)",
        "float32 probabilities closer to 0 and 1 than the margin, again":
            "float32 probabilities closer to 0 and 1 than the margin (1 - 2**-24 among them)",
    },
    "mse_on_sigmoid": {
        "logits spread over [-6, 6], shape (40,)": "confidently wrong logits (|z| from 3 to 12, the wrong sign)",
        "logits of magnitude 1000 and 1e4, again": "logits of magnitude 1000 and 1e4",
        "soft targets, shape (5, 2)": "soft targets, shape (3, 4)",
        "float32 logits and targets of shape (2, 3, 2)": "float32 3-D logits and targets of shape (2, 2, 3)",
    },
    "binary_cross_entropy_with_logits": {
        "logits spread over [-30, 30], shape (50,)": "logits spread over [-30, 30], shape (20,)",
        "logits of magnitude 1000 and 1e4, both signs": "positive logits of magnitude 1000 and 1e4",
        "soft targets, shape (5, 2)": "soft targets, shape (3, 4)",
        "float32 logits from 0.1 to 1e4 in magnitude, again": "float32 logits from 0.1 to 1e4 in magnitude, float32 targets",
    },
    "log_sum_exp": {
        "logits shifted by 1e4, shape (8, 10)": "logits shifted by 1e4, shape (2, 5)",
        "a single class, shape (5, 1)": "a single class, shape (3, 1)",
        "a 3-D array of shape (2, 3, 4) (the last axis holds the classes)":
            "a 3-D array of shape (3, 2, 5) (the last axis holds the classes)",
        "float32 logits of magnitude up to 1000, shape (4, 6)": "float32 logits of shape (3, 4)",
        "a 3-D array with a middle axis of length 1, shape (2, 1, 5)":
            "a 3-D array with a middle axis of length 1, shape (3, 1, 4)",
    },
    "one_hot": {
        "50 labels of 10 classes": "6 labels of 4 classes, every class present",
        "two classes, 7 labels": "two classes, 4 labels",
        "fewer labels than classes: 3 labels of 8 classes": "fewer labels than classes: 2 labels of 6 classes",
    },
    "softmax_cross_entropy": {
        "16 rows of 10 classes": "8 rows of 3 classes, labels of every class",
        "logits shifted by 1e4, 6 rows of 4 classes": "logits shifted by 1e4, 4 rows of 3 classes",
        "logits of magnitude 1e4, 4 rows of 4 classes": "logits of magnitude 1000, shape (6, 4)",
        "two classes, 7 rows": "two classes, 4 rows",
        "float32 logits, 5 rows of 3 classes": "float32 logits, 6 rows of 5 classes",
        "logits as a transposed view (Fortran order), 9 rows of 6 classes":
            "logits as a transposed view (Fortran order), 7 rows of 4 classes",
        "labels that never reach the last classes: 8 rows of 5 classes, labels in [0, 3)":
            "labels that never reach the last class: 6 rows of 4 classes, labels in [0, 3) (the number of classes "
            "is the width of logits, not what the labels reach)",
    },
}


@pytest.mark.parametrize("exercise", catalogue.EXERCISES, ids=[e.name for e in catalogue.EXERCISES])
def test_every_hidden_family_has_a_visible_case(exercise):
    visible = {c.description: c for c in exercise.cases if not c.hidden}
    hidden = {c.description: c for c in exercise.cases if c.hidden}
    assert set(HIDDEN_FAMILIES[exercise.name]) == set(hidden)
    for description, twin in HIDDEN_FAMILIES[exercise.name].items():
        assert twin in visible, f"{exercise.name}: {description!r} has no visible case {twin!r}"
        ours, theirs = (c.draw(np.random.default_rng(0)) for c in (hidden[description], visible[twin]))
        # the same family: the same number of arguments, of the same dtypes and number of dimensions (an
        # answer that reads the shape as (rows, columns) passed every visible mse case and failed a hidden 3-D one)
        assert [getattr(a, "dtype", type(a)) for a in ours] == [getattr(a, "dtype", type(a)) for a in theirs]
        assert [np.ndim(a) for a in ours] == [np.ndim(a) for a in theirs], (description, twin)


@pytest.mark.parametrize("name", ["binary_cross_entropy", "mse_on_sigmoid", "binary_cross_entropy_with_logits",
                                  "mse", "log_sum_exp", "softmax_cross_entropy"])
def test_float32_is_checked_where_the_dtype_of_the_input_is_promised(name):
    exercise = catalogue.CATALOGUE[name]
    for hidden in (False, True):
        drawn = [c.draw(np.random.default_rng(0)) for c in exercise.cases if c.hidden == hidden]
        assert any(isinstance(a, np.ndarray) and a.dtype == np.float32 for args in drawn for a in args), (name, hidden)


def test_every_argument_of_binary_cross_entropy_is_varied():
    cases = catalogue.CATALOGUE["binary_cross_entropy"].cases
    for hidden in (False, True):
        epsilons = {c.draw(np.random.default_rng(0))[2] for c in cases if c.hidden == hidden
                    and len(c.draw(np.random.default_rng(0))) == 3}
        assert epsilons and 1e-12 not in epsilons, hidden


# -- the synthesis -----------------------------------------------------------------------------------


def test_the_synthesis_reaches_its_validation_threshold_with_nnlibs_loss():
    nb = notebook(CHAPTER)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("digits = load_digits()")]
    namespace = {"softmax_cross_entropy": ref.softmax_cross_entropy}
    exec("import numpy as np\nfrom nnlib.data import load_digits\nfrom nnlib.viz import losses as viz", namespace)  # noqa: S102
    exec(compile(cell.source, "synthesis", "exec"), namespace)  # noqa: S102 - our own notebook's cell
    history, threshold = namespace["history"], namespace["threshold"]
    assert threshold == 0.80 and "more than 80% validation accuracy" in nb.cells[nb.cells.index(cell) - 2].source
    assert history["train_loss"][0] == pytest.approx(np.log(10), rel=1e-6)  # zero weights: log K exactly
    assert history["val_acc"][-1] > threshold
    assert len(history["val_loss"]) == len(history["train_loss"]) == namespace["steps"] + 1


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


def test_comparison_does_not_call_a_gradient_of_0_185_vanished():
    for z, y in ((-2.0, 1), (2.0, 0), (-3.5, 1)):
        grad_axis = viz.plot_loss_comparison(z, y).axes[1]
        assert not any("vanished" in t.get_text() for t in grad_axis.texts), (z, y)
    assert "-0.1850" in viz.plot_loss_comparison(-2.0, 1).axes[1].get_title()


def test_training_curves_show_training_beside_validation():
    history = {"train_loss": [2.3, 1.0], "val_loss": [2.3, 1.1], "train_acc": [0.1, 0.8], "val_acc": [0.1, 0.79]}
    fig = viz.plot_training_curves(history, threshold=0.8)
    loss_axis, acc_axis = fig.axes
    assert [line.get_label() for line in loss_axis.lines] == ["training", "validation"]
    assert "threshold 80%" in [t.get_text() for t in acc_axis.get_legend().get_texts()]


def test_the_synthesis_uses_the_students_loss_or_nnlibs():
    assert viz.softmax_cross_entropy_or_reference(stub)[0] is ref.softmax_cross_entropy

    def mine(z, y):
        return ref.softmax_cross_entropy(z, y)

    assert viz.softmax_cross_entropy_or_reference(mine) == (mine, "your softmax_cross_entropy")


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


def test_clipping_in_place_is_caught_by_the_exact_before_after_comparison():
    def clip_in_place(prob, target, eps=1e-12):
        e = max(eps, np.finfo(prob.dtype).eps)
        np.clip(prob, e, 1 - e, out=prob)  # writes into the caller's array
        return ref.binary_cross_entropy(prob.copy(), target, eps)

    report = first_failure("binary_cross_entropy", clip_in_place)
    assert report.status == "failed" and "modified its input prob" in report.message, report.message


def test_shifting_the_logits_in_place_is_caught():
    def shift_in_place(logits, y):
        logits -= logits.max(axis=1, keepdims=True)  # changes the caller's logits
        return ref.softmax_cross_entropy(logits.copy(), y)

    report = first_failure("softmax_cross_entropy", shift_in_place)
    assert report.status == "failed" and "modified its input logits" in report.message, report.message


# -- a second pair of eyes: wrong answers that once passed, right answers that must keep passing -------
#
# Each wrong answer below earned points before the case named in its test existed (it passed every visible
# case, and most of them every hidden one too); each right answer is written in a style the reference is not.


def passes_everything(name, function, seeds=(0, 1, 2)):
    return all(first_failure(name, function, hidden=hidden, seed=seed).status == "passed"
               for hidden in (False, True) for seed in seeds)


def rows_times_columns_mse(pred, target):
    """n read as rows * columns (or rows for 1-D): right in 1-D and 2-D, wrong in 3-D."""
    n = pred.shape[0] * (pred.shape[1] if pred.ndim > 1 else 1)
    diff = pred - target
    return float(np.sum(diff * diff) / n), 2 * diff / n


def test_an_answer_that_reads_the_shape_as_rows_and_columns_fails_a_visible_case():
    report = first_failure("mse", rows_times_columns_mse)
    assert report.status == "failed" and report.message.startswith("On float32 3-D inputs"), report.message


def bce_with_margin(margin, replace_only_exact=False):
    """Binary cross-entropy with the margin ``margin(prob, eps)``, clipping or replacing exact 0 and 1 only."""

    def answer(prob, target, eps=1e-12):
        e = margin(prob, eps)
        if replace_only_exact:
            p = np.where(prob == 0, e, np.where(prob == 1, 1 - e, prob)).astype(prob.dtype)
        else:
            p = np.clip(prob, e, 1 - e)
        loss = -float(np.mean(target * np.log(p) + (1 - target) * np.log(1 - p)))
        return loss, ((p - target) / (p * (1 - p)) / prob.size).astype(prob.dtype)

    return answer


def right_margin(prob, eps):
    return max(eps, float(np.finfo(prob.dtype).eps))


def test_replacing_only_exact_0_and_1_is_not_clipping():
    """np.where(prob == 0, e, ...) leaves a probability of 1e-13 (or float32's 1 - 2**-24) inside the margin."""
    report = first_failure("binary_cross_entropy", bce_with_margin(right_margin, replace_only_exact=True))
    assert report.status == "failed" and report.message.startswith("On probabilities closer to 0 and 1 than the margin")
    assert "p is not clipped" in report.message


@pytest.mark.parametrize("margin", [
    lambda prob, eps: float(np.finfo(np.float32).eps) if prob.dtype == np.float32 else eps,  # eps ignored in float32
    lambda prob, eps: eps if prob.dtype.type(1 - eps) < 1 else float(np.finfo(prob.dtype).eps),  # eps if it "exists"
], ids=["eps-ignored-in-float32", "eps-when-1-minus-eps-is-below-1"])
def test_the_eps_argument_is_checked_in_float32_too(margin):
    report = first_failure("binary_cross_entropy", bce_with_margin(margin))
    assert report.status == "failed" and report.message.startswith("On float32 probabilities of exactly 0 and 1 with eps=")


def test_the_float32_eps_cases_use_powers_of_two():
    """1 - eps is exact in float32, so clipping in Python floats and clipping the float32 array agree."""
    for case in catalogue.CATALOGUE["binary_cross_entropy"].cases:
        args = case.draw(np.random.default_rng(0))
        if args[0].dtype == np.float32 and len(args) == 3:
            e = max(args[2], float(np.finfo(np.float32).eps))
            assert float(np.float32(1 - e)) == 1 - e, case.description


def bce_loop(prob, target, eps=1e-12):
    """A right answer, one element at a time in Python floats (float32 in, float32 out)."""
    e = max(eps, float(np.finfo(prob.dtype).eps))
    dprob, total = np.empty_like(prob), 0.0
    for i in np.ndindex(prob.shape):
        p, t = min(max(float(prob[i]), e), 1 - e), float(target[i])
        total -= t * np.log(p) + (1 - t) * np.log(1 - p)
        dprob[i] = (-t / p + (1 - t) / (1 - p)) / prob.size
    return total / prob.size, dprob


def bce_float64_inside(prob, target, eps=1e-12):
    """A right answer that clips in prob's dtype, then computes in float64 and casts back."""
    e = max(eps, np.finfo(prob.dtype).eps)
    p, t = np.clip(prob, e, 1 - e).astype(np.float64), target.astype(np.float64)
    return float(-np.mean(t * np.log(p) + (1 - t) * np.log1p(-p))), ((p - t) / (p * (1 - p)) / p.size).astype(prob.dtype)


def mse_loop(pred, target):
    dpred, total = np.empty_like(pred), 0.0
    for i in np.ndindex(pred.shape):
        d = float(pred[i]) - float(target[i])
        total += d * d
        dpred[i] = 2 * d / pred.size
    return total / pred.size, dpred


def mse_einsum(pred, target):
    d = pred - target
    flat = d.reshape(-1)
    return float(np.einsum("i,i->", flat, flat) / d.size), 2 * d / d.size


def bce_logits_logaddexp(logits, target):
    return float(np.mean(np.logaddexp(0, logits) - logits * target)), (ref_sigmoid(logits) - target) / logits.size


def ref_sigmoid(z):
    from nnlib.activations import sigmoid
    return sigmoid(z)


def log_sum_exp_rows(x):
    flat = x.reshape(-1, x.shape[-1])
    out = np.empty(flat.shape[0], dtype=x.dtype)
    for i, row in enumerate(flat):
        m = row.max()
        out[i] = m + np.log(np.sum(np.exp(row - m)))
    return out.reshape(x.shape[:-1])


def softmax_cross_entropy_float32_first(logits, y):
    n, k = logits.shape
    onehot = np.eye(k, dtype=logits.dtype)[y]
    m = logits.max(axis=1, keepdims=True)
    log_probs = logits - (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True)))
    return float(-np.einsum("nk,nk->", onehot, log_probs) / n), (np.exp(log_probs) - onehot) / logits.dtype.type(n)


@pytest.mark.parametrize("name, answer", [
    ("mse", mse_loop), ("mse", mse_einsum), ("binary_cross_entropy", bce_loop),
    ("binary_cross_entropy", bce_float64_inside), ("binary_cross_entropy_with_logits", bce_logits_logaddexp),
    ("log_sum_exp", log_sum_exp_rows), ("softmax_cross_entropy", softmax_cross_entropy_float32_first),
], ids=["mse-loop", "mse-einsum", "bce-loop", "bce-float64-inside", "bce-logits-logaddexp", "lse-rows",
        "sce-float32-first"])
def test_right_answers_in_other_styles_pass(name, answer):
    assert passes_everything(name, answer)


def test_squeeze_fails_on_a_middle_axis_of_length_1():
    def squeezed(x):
        m = x.max(axis=-1, keepdims=True)
        return m.squeeze() + np.log(np.sum(np.exp(x - m), axis=-1))

    report = first_failure("log_sum_exp", squeezed)
    assert report.status == "failed" and "middle axis of length 1" in report.message and "squeeze()" in report.message


def test_the_number_of_classes_comes_from_the_logits_not_the_labels():
    """one_hot(y, y.max() + 1) passed the visible check at seed 0 and every hidden case (every class present)."""
    def classes_from_labels(logits, y):
        loss, _ = ref.softmax_cross_entropy(logits, y)
        n = len(y)
        dlogits = (np.exp(logits - logits.max(axis=1, keepdims=True)) /
                   np.exp(logits - logits.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True) - np.eye(y.max() + 1)[y])
        return loss, (dlogits / n).astype(logits.dtype)

    for hidden in (False, True):
        report = first_failure("softmax_cross_entropy", classes_from_labels, hidden=hidden)
        assert report.status == "failed" and "never reach the last class" in report.message, report.message


@pytest.mark.parametrize("cheat", ["log_sum_exp_reference", "one_hot_reference", "bce_in_dtype", "clip_epsilon",
                                   "softplus", "bce_logits_stable_loss"])
def test_answers_importable_from_the_catalogue_or_nnlib_are_banned(cheat):
    """The student edition ships this catalogue: its references and helpers are answers, as are nnlib's
    clip_epsilon (exercise 2's margin) and softplus (exercise 4's stable rewrite)."""
    from nnlib import activations as act

    calls = {
        "log_sum_exp_reference": ("log_sum_exp", lambda x: catalogue.log_sum_exp_reference(x)),
        "one_hot_reference": ("one_hot", lambda y, k: catalogue.one_hot_reference(y, k)),
        "bce_in_dtype": ("binary_cross_entropy", lambda p, t, eps=1e-12: catalogue.bce_in_dtype(p, t, eps)),
        "clip_epsilon": ("binary_cross_entropy", bce_with_margin(lambda p, eps: ref.clip_epsilon(eps, p.dtype))),
        "softplus": ("binary_cross_entropy_with_logits",
                     lambda z, t: (float(np.mean(act.softplus(z) - z * t)), (act.sigmoid(z) - t) / z.size)),
        "bce_logits_stable_loss": ("binary_cross_entropy_with_logits",
                                   lambda z, t: (catalogue.bce_logits_stable_loss(z, t), (act.sigmoid(z) - t) / z.size)),
    }
    name, answer = calls[cheat]
    report = catalogue.CATALOGUE.evaluate(name, answer, answer if catalogue.CATALOGUE[name].forward else None)
    assert report.status == "failed" and f"calls nnlib's answer" in report.message and cheat in report.message


def test_clipping_1_minus_p_on_its_own_is_explained():
    """It differs from the reference by 4e-7 in float64 at p = 0 and 1: without a cause, "expected 4.88516, got
    4.88515" tells a student nothing."""
    def loss_clips_one_minus_p(prob, target, eps=1e-12):
        e = max(eps, np.finfo(prob.dtype).eps)
        p = np.clip(prob, e, 1 - e)
        loss = -np.mean(target * np.log(np.maximum(prob, e)) + (1 - target) * np.log(np.maximum(1 - prob, e)))
        return float(loss), (p - target) / (p * (1 - p)) / prob.size

    report = first_failure("binary_cross_entropy", loss_clips_one_minus_p)
    assert report.status == "failed" and "clips 1 - p on its own" in report.message, report.message


def central_differences(loss, x, step=1e-5):
    """d loss / dx by central differences in float64, written by hand (no derivation), in x's dtype."""
    x64, grad = np.array(x, dtype=np.float64), np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        up, down = x64.copy(), x64.copy()
        up[i] += step
        down[i] -= step
        grad[i] = (loss(up) - loss(down)) / (2 * step)
    return grad.astype(x.dtype)


def mse_by_differences(pred, target):
    loss = lambda p: float(np.mean((p - target) ** 2))  # noqa: E731
    return loss(pred), central_differences(loss, pred)


def softmax_cross_entropy_by_differences(logits, y):
    def loss(z):
        m = z.max(axis=1, keepdims=True)
        return float(np.mean(m[:, 0] + np.log(np.exp(z - m).sum(axis=1)) - z[np.arange(len(y)), y]))

    return loss(logits), central_differences(loss, logits)


@pytest.mark.parametrize("name, answer", [("mse", mse_by_differences),
                                          ("softmax_cross_entropy", softmax_cross_entropy_by_differences)])
def test_a_gradient_by_central_differences_fails_the_visible_check(name, answer):
    """No derivation at all: right to 1e-6, and the large-magnitude cases see it (the visible mse case with 6
    elements once let it through at seed 0)."""
    assert first_failure(name, answer).status == "failed"


def test_nnlibs_numerical_gradient_fails_without_being_banned():
    """Not banned (the grader's sandbox computes the numerical hints with it), and rejected anyway."""
    from nnlib.gradcheck import numerical_gradient

    def mse_by_nnlib(pred, target):
        loss = lambda p: float(np.mean((p - target) ** 2))  # noqa: E731
        return loss(pred), numerical_gradient(loss, pred.astype(np.float64)).astype(pred.dtype)

    assert numerical_gradient not in catalogue.FORBIDDEN
    for hidden in (False, True):
        assert catalogue.CATALOGUE.evaluate("mse", mse_by_nnlib, mse_by_nnlib, hidden=hidden).status == "failed"


def test_the_checks_collect_without_the_banned_functions_of_their_own_module(monkeypatch):
    """The grader's sandbox may replace every forbidden function by a stub that raises (it did so for every
    function of this module when they were all banned, and every student scored 0). Collecting, which runs in
    the sandbox (the draws, the student's call, the numerical gradients), must need none of them."""
    from autograder.checks import Catalogue

    def stubbed(name):
        def stub(*args, **kwargs):
            raise RuntimeError(f"{name} is stubbed in the sandbox")
        return stub

    own = [f for f in catalogue.FORBIDDEN if f.__module__ == catalogue.__name__]
    assert own, "the module's own answers are banned"
    originals = {f.__name__: f for f in own}
    for name in originals:
        monkeypatch.setattr(catalogue, name, stubbed(name))
    trusted_side = Catalogue("02_losses", catalogue.CATALOGUE.exercises.values())
    for exercise in catalogue.EXERCISES:
        answer = exercise.answer if exercise.answer.__name__ not in originals else originals[exercise.answer.__name__]
        forward = answer if exercise.forward else None
        for hidden in (False, True):
            record = trusted_side.collect(exercise.name, answer, forward, seed=3, hidden=hidden)
            monkeypatch.undo()  # the judge runs outside the sandbox, with everything
            assert trusted_side.judge(record).passed, (exercise.name, hidden, str(trusted_side.judge(record)))
            for name in originals:
                monkeypatch.setattr(catalogue, name, stubbed(name))


def _log_probs(z):
    m = z.max(axis=1, keepdims=True)
    return z - (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))


def _rows_not_pairs(z, y):
    log_probs = _log_probs(z)
    dlogits = np.exp(log_probs)
    dlogits[y] -= 1  # whole rows
    return -float(np.mean(log_probs[np.arange(len(y)), y])), dlogits / len(y)


def _columns_not_pairs(z, y):
    log_probs = _log_probs(z)
    dlogits = np.exp(log_probs)
    dlogits[:, y] -= 1  # whole columns
    return -float(np.mean(log_probs[np.arange(len(y)), y])), dlogits / len(y)


def _loss_of_rows(z, y):
    log_probs = _log_probs(z)
    dlogits = np.exp(log_probs)
    dlogits[np.arange(len(y)), y] -= 1
    return -float(np.mean(log_probs[y])), dlogits / len(y)


def _mse_on_sigmoid_without_the_2(z, t):
    from nnlib.activations import sigmoid
    s = sigmoid(z)
    return float(np.mean((s - t) ** 2)), (s - t) * s * (1 - s) / z.size


def _cross_entropy_times_sigmoid_prime(z, t):
    from nnlib.activations import sigmoid
    s = sigmoid(z)
    loss = float(np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))))
    return loss, (s - t) * s * (1 - s) / z.size


@pytest.mark.parametrize("name, answer, cause", [
    ("softmax_cross_entropy", _rows_not_pairs, "dlogits[y] -= 1 subtracts 1 from whole rows"),
    ("softmax_cross_entropy", _columns_not_pairs, "dlogits[:, y] -= 1 subtracts 1 from whole columns"),
    ("softmax_cross_entropy", _loss_of_rows, "the loss averages log_probs[y]"),
    ("mse_on_sigmoid", _mse_on_sigmoid_without_the_2, "the factor 2 from differentiating the square"),
    ("binary_cross_entropy_with_logits", _cross_entropy_times_sigmoid_prime, "the gradient is multiplied by sigmoid'(z)"),
], ids=["labels-index-rows", "labels-index-columns", "loss-of-whole-rows", "mse-on-sigmoid-without-2",
        "cross-entropy-times-sigmoid-prime"])
def test_common_wrong_answers_get_their_cause(name, answer, cause):
    """Rejected before too, but with only "dlogits is wrong: expected ..., got ...": nothing to act on."""
    report = first_failure(name, answer)
    assert report.status == "failed" and f"Likely cause: {cause}" in report.message, report.message


def test_the_experiments_stand_ins_are_no_way_around_the_exercises():
    """viz.yours_or_reference hands nnlib's functions to the experiment cells; called from an exercise, each is
    caught (log_sum_exp's stand-in through nnlib's log_softmax)."""
    def stub(*args):
        raise NotImplementedError

    through_viz = {
        "log_sum_exp": lambda x: viz.log_sum_exp_reference(x),
        "mse": lambda p, t: viz.yours_or_reference(stub, "mse")[0](p, t),
        "binary_cross_entropy_with_logits":
            lambda z, t: viz.yours_or_reference(stub, "binary_cross_entropy_with_logits")[0](z, t),
        "softmax_cross_entropy": lambda z, y: viz.yours_or_reference(stub, "softmax_cross_entropy")[0](z, y),
    }
    for name, answer in through_viz.items():
        report = catalogue.CATALOGUE.evaluate(name, answer, answer if catalogue.CATALOGUE[name].forward else None)
        assert report.status == "failed" and "calls nnlib's answer" in report.message, (name, report.message)
