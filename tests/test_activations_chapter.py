"""Chapter 1, activation functions: the notebook's points and its plotting helpers.

The structure every chapter's notebook shares (one graded cell per exercise, solutions that pass
their checks, stubs that are "not attempted", ...) is tested in tests/test_notebook_structure.py;
here, the points of each exercise. The helpers of ``nnlib.viz.activations`` run headless (Agg),
draw the student's function or fall back to nnlib's, and say which in their labels.
"""

import dataclasses
import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from test_notebook_structure import CHAPTERS, GRADE_CALL, cell_with_id, graded_cells, nbgrader, notebook  # noqa: E402

from autograder.checks import Catalogue  # noqa: E402
from autograder.exercises import activations as CATALOGUE_MODULE  # noqa: E402
from autograder.exercises.activations import CATALOGUE  # noqa: E402
from nnlib import activations as ref  # noqa: E402
from nnlib.viz import activations as viz  # noqa: E402

pytestmark = pytest.mark.ch01

(CHAPTER,) = [c for c in CHAPTERS if c.name == "01_activations"]

#: Points per exercise, as announced in the notebook's overview, and the written answer graded by hand (19 in all).
POINTS = {
    "sigmoid": 2, "sigmoid_derivative": 1, "tanh": 1, "tanh_derivative": 1, "relu": 1, "relu_derivative": 1,
    "leaky_relu": 1, "leaky_relu_derivative": 1, "elu": 2, "elu_derivative": 1, "softmax": 2, "softmax_backward": 2,
}
WRITTEN = {"written_relu_vs_sigmoid": 3}
TOTAL_POINTS = 19


# -- the notebook: what is specific to this chapter (the rest: tests/test_notebook_structure.py) --------


def test_points_per_exercise_and_in_all():
    nb = notebook(CHAPTER)
    graded = graded_cells(nb)
    points = {GRADE_CALL.search(c.source).group(1): nbgrader(c)["points"] for c in graded if c.cell_type == "code"}
    written = {nbgrader(c)["grade_id"]: nbgrader(c)["points"] for c in graded if c.cell_type == "markdown"}
    assert points == POINTS and written == WRITTEN
    assert sum(points.values()) + sum(written.values()) == TOTAL_POINTS
    assert f"{TOTAL_POINTS} points" in cell_with_id(nb, "intro_overview").source


def test_the_written_question_has_a_locked_question_and_a_rubric_that_students_never_see():
    nb = notebook(CHAPTER)
    answer = cell_with_id(nb, "written_relu_vs_sigmoid")
    question = nb.cells[nb.cells.index(answer) - 1]
    assert nbgrader(question)["locked"] and "(3 points, graded by hand)" in question.source
    meta = nbgrader(answer)
    assert meta["grade"] and meta["solution"] and not meta["locked"] and not meta["task"]
    assert answer.source.startswith("### BEGIN SOLUTION\n") and answer.source.endswith("### END SOLUTION")
    assert "**Rubric (3 points):**" in answer.source


def test_graded_cells_let_run_all_continue():
    for cell in graded_cells(notebook(CHAPTER)):
        if cell.cell_type == "code":
            assert "raises-exception" in cell.metadata.get("tags", []), nbgrader(cell)["grade_id"]


def test_every_experiment_is_preceded_by_a_prediction():
    """A code cell that is neither an exercise, its check or graded cell, nor the setup is an experiment or a
    plot: the markdown cell before it, or before the run of experiment cells it belongs to, asks to predict."""
    nb = notebook(CHAPTER)
    cells = nb.cells
    for i, cell in enumerate(cells):
        if cell.cell_type != "code" or nbgrader(cell) or cell.source.startswith("check("):
            continue
        j = i - 1
        while cells[j].cell_type == "code" and not nbgrader(cells[j]) and not cells[j].source.startswith("check("):
            j -= 1
        before = cells[j]
        if before.cell_type == "code":  # a plot right after an exercise's graded cell: it draws the student's function
            continue
        assert before.source.startswith("**Predict.**") or "Your sigmoid (solid)" in before.source \
            or before.source.startswith("## Your six"), f"no prediction before {cell.source[:60]!r}"


def test_statements_hide_the_answer_in_hints():
    """Each statement folds its help away: two progressive hints, no code in them."""
    nb = notebook(CHAPTER)
    for name in POINTS:
        statement = cell_with_id(nb, f"{name}_statement").source
        assert statement.count("<details><summary>Hint") == 2, name
        hints = statement[statement.index("<details>"):]
        code = ("def ", "return np", "return s", "return x", "= np.", "np.where(x", "(x > 0)", ".astype(")
        assert not [c for c in code if c in hints], f"{name}: a hint gives code"


# -- the catalogue: each case added for a promise rejects a wrong answer that passed before ------------
#
# Each wrong answer below passed the visible check before its case was added (shown by checking it
# without that case), and fails now, on that case. Wrong answers the engine can name are Mistakes of
# the catalogue (e.g. sigmoid clipped to [-500, 500], softmax_backward in float64); these cannot be
# told apart from other results by their values alone, so they live here.


def without(name, *descriptions):
    """The chapter's catalogue without the given cases of exercise ``name``: what the check was before them."""
    exercise = CATALOGUE[name]
    cases = tuple(c for c in exercise.cases if c.description not in descriptions)
    assert len(cases) == len(exercise.cases) - len(descriptions), f"{name} lacks one of {descriptions}"
    changed = dataclasses.replace(exercise, cases=cases)
    others = [e for e in CATALOGUE.exercises.values() if e.name != name]
    return Catalogue(CATALOGUE.chapter, others + [changed], forbidden=CATALOGUE.forbidden)


def relu_scalar_loop(x):
    """Loops over rows and columns with a scalar ``if``: 1-D and 2-D work, 3-D raises."""
    x2 = np.atleast_2d(x)
    out = np.empty_like(x2)
    for i in range(x2.shape[0]):
        for j in range(x2.shape[1]):
            out[i, j] = x2[i, j] if x2[i, j] > 0 else 0
    return out.reshape(np.shape(x))


def relu_through_a_flat_view(x):
    """Writes through ``reshape(-1)``, a view only of a C-contiguous array: a transposed input comes back unchanged."""
    out = np.copy(x)  # np.copy keeps the memory layout (order="K")
    flat = out.reshape(-1)
    flat[flat < 0] = 0
    return out


def softmax_that_refuses_one_class(x):
    """Validates its input, wrongly: K = 1 is a valid (if dull) softmax, every probability 1."""
    if x.shape[-1] < 2:
        raise ValueError("softmax needs at least two classes")
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def softmax_through_rows_view(x):
    """Works on ``reshape(-1, K)`` in place: a view only of a C-contiguous array."""
    out = np.copy(x)
    rows = out.reshape(-1, out.shape[-1])
    rows -= rows.max(axis=1, keepdims=True)
    np.exp(rows, out=rows)
    rows /= rows.sum(axis=1, keepdims=True)
    return out


def softmax_from_nnlibs_log_softmax(x):
    return np.exp(ref.log_softmax(x))


def softmax_backward_through_rows_view(dout, s):
    k = s.shape[-1]
    dx = np.copy(s)
    rows, d = dx.reshape(-1, k), dout.reshape(-1, k)
    rows *= d - np.sum(d * rows, axis=1, keepdims=True)
    return dx.astype(s.dtype)


def relu_derivative_with_a_threshold(x):
    """``x > 1e-6`` where ``x > 0`` belongs: wrong only for inputs in (0, 1e-6], which only the hidden cases had."""
    return (x > 1e-6).astype(x.dtype)


NEW_CASES = [
    ("relu_derivative", relu_derivative_with_a_threshold, "tiny inputs of magnitude 1e-12 to 1e-3, both signs, shape (30,)"),
    ("relu", relu_scalar_loop, "a 3-D array spread over [-40, 40], shape (2, 3, 4)"),
    ("relu", relu_through_a_flat_view, "a transposed view (column-major, not C-contiguous), shape (5, 3)"),
    ("softmax", softmax_that_refuses_one_class, "a single class, shape (3, 1): every probability is 1"),
    ("softmax", softmax_through_rows_view,
     "logits stored with permuted axes (not contiguous), shape (2, 3, 4), rows offset by up to 1000"),
    ("softmax_backward", softmax_backward_through_rows_view,
     "dout and s stored with permuted axes (not contiguous), shape (2, 3, 4)"),
]


#: The student's forward passed with a derivative or backward exercise (a right one: nnlib's).
FORWARD = {"softmax_backward": ref.softmax, "relu_derivative": ref.relu, "leaky_relu_derivative": ref.leaky_relu}


@pytest.mark.parametrize("name, wrong, description", NEW_CASES, ids=[f"{n}-{w.__name__}" for n, w, _ in NEW_CASES])
def test_a_new_visible_case_rejects_an_answer_that_passed_before(name, wrong, description):
    forward = FORWARD.get(name)
    with np.errstate(all="ignore"):
        assert without(name, description).evaluate(name, wrong, forward).passed
        report = CATALOGUE.evaluate(name, wrong, forward)
    assert report.status == "failed" and f"On {description}:" in report.message, report.message


MIXED = "float32 s with a float64 dout (as from a float64 loss), shape (3, 4)"
LARGE_SLOPE = "a slope above 1 (from 1.5 to 3), standard normal inputs of shape (4, 5)"


@pytest.mark.parametrize("name, mistake, description, added_with_it", [
    ("sigmoid", "x is clipped to [-500, 500]", "float32 inputs of magnitude up to 200, shape (20,)", ()),
    ("softmax_backward", "dout is float64 and s float32", MIXED, ()),
    ("softmax_backward", "np.zeros(shape) is float64", "float32 dout and s, shape (3, 4)", (MIXED,)),
    # np.maximum(x, slope * x) is leaky ReLU only for slope <= 1; the cases drew slopes in [0.01, 0.3] only
    ("leaky_relu", "max(x, slope * x)", LARGE_SLOPE, ()),
    ("leaky_relu_derivative", "max(1 or 0, slope)", LARGE_SLOPE, ()),
])
def test_a_new_case_rejects_a_mistake_that_passed_before(name, mistake, description, added_with_it):
    (wrong,) = [m.implementation for m in CATALOGUE[name].mistakes if m.cause.startswith(mistake)]
    forward = FORWARD.get(name)
    with np.errstate(all="ignore"):
        assert without(name, description, *added_with_it).evaluate(name, wrong, forward).passed
    report = CATALOGUE.evaluate(name, wrong, forward)
    assert report.status == "failed" and f"On {description}:" in report.message and f"Likely cause: {mistake}" in report.message


# -- an overflow hidden under np.errstate is still an overflow --------------------------------------


def _naive_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_silenced(x):
    with np.errstate(all="ignore"):
        return 1 / (1 + np.exp(-x))


def sigmoid_derivative_silenced(x):
    with np.errstate(all="ignore"):
        e = np.exp(-x)
        return np.where(np.isinf(e), 0.0, e / (1 + e) ** 2).astype(x.dtype)


def tanh_silenced(x):
    with np.errstate(all="ignore"):
        return np.where(x > 20, 1.0, np.where(x < -20, -1.0, (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x)))).astype(x.dtype)


def tanh_derivative_silenced(x):
    with np.errstate(all="ignore"):
        return 1 / np.cosh(x) ** 2


def elu_silenced(x, alpha=1.0):
    with np.errstate(all="ignore"):
        return np.where(x > 0, x, alpha * np.expm1(x))


def elu_derivative_silenced(x, alpha=1.0):
    with np.errstate(over="ignore"):
        return np.where(x > 0, 1.0, alpha * np.exp(x)).astype(x.dtype)


def elu_derivative_seterr(x, alpha=1.0):
    old = np.seterr(all="ignore")
    try:
        return np.where(x > 0, 1.0, alpha * np.exp(x)).astype(x.dtype)
    finally:
        np.seterr(**old)


SILENCED = [
    ("sigmoid", sigmoid_silenced, None),
    ("sigmoid_derivative", sigmoid_derivative_silenced, ref.sigmoid),
    ("tanh", tanh_silenced, ref.sigmoid),
    ("tanh_derivative", tanh_derivative_silenced, ref.tanh),
    ("elu", elu_silenced, None),
    ("elu_derivative", elu_derivative_silenced, ref.elu),
    ("elu_derivative", elu_derivative_seterr, ref.elu),
]


@pytest.mark.parametrize("name, wrong, forward", SILENCED, ids=[w.__name__ for _, w, _ in SILENCED])
def test_an_overflow_silenced_with_errstate_is_still_reported(name, wrong, forward, monkeypatch):
    """The right numbers with an overflow hidden under np.errstate passed every check (visible and
    hidden) before the catalogue set np.errstate aside while the student's function runs. (Not caught:
    ``@np.errstate(...)`` as a decorator, or ``errstate`` imported by name, bound before the check runs.)"""
    import contextlib

    from autograder.exercises import activations as catalogue_module

    with monkeypatch.context() as m:
        m.setattr(catalogue_module, "errstate_set_aside", contextlib.nullcontext)
        assert CATALOGUE.evaluate(name, wrong, forward).passed
        assert CATALOGUE.evaluate(name, wrong, forward, hidden=True).passed
    report = CATALOGUE.evaluate(name, wrong, forward)
    assert report.status == "failed" and "overflow encountered" in report.message, report.message
    assert np.errstate is not catalogue_module._KeptErrstate and np.seterr(**np.geterr()) is not None


OVERFLOWING_FORWARDS = """
import numpy as np

def sigmoid(x):
    return 1 / (1 + np.exp(-x))

def sigmoid_derivative(x):
    s = sigmoid(x)
    return s * (1 - s)

def tanh(x):
    with np.errstate(over="ignore"):
        return (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))

def tanh_derivative(x):
    t = tanh(x)
    return 1 - t * t

def elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(x))

def elu_derivative(x, alpha=1.0):
    return np.where(x > 0, 1.0, elu(x, alpha) + alpha).astype(x.dtype)
"""


@pytest.mark.parametrize("name, forward, only_a_warning", [
    ("sigmoid_derivative", "sigmoid", True), ("elu_derivative", "elu", True),
    ("tanh_derivative", "tanh", False),  # its forward's nan was already named as the forward's fault
])
def test_a_right_derivative_is_not_charged_for_its_forwards_overflow(name, forward, only_a_warning, monkeypatch):
    """A right derivative that reuses an overflowing forward (the usual first sigmoid) lost its point
    with a message about an overflow it did not cause; now it passes and the message names the forward."""
    from autograder.exercises import activations as catalogue_module

    namespace = {}
    exec(compile(OVERFLOWING_FORWARDS, "<student>", "exec"), namespace)
    derivative, own_forward = namespace[name], namespace[forward]
    for hidden in (False, True):
        report = CATALOGUE.evaluate(name, derivative, own_forward, hidden=hidden)
        assert report.passed and f"but your {forward} " in report.message and f"fix {forward}" in report.message, report.message
    with monkeypatch.context() as m:
        m.setattr(catalogue_module, "_warnings_blamed_on", lambda f, n: f)
        report = CATALOGUE.evaluate(name, derivative, own_forward)
    assert (report.status == "failed" and "numerical warning" in report.message) == only_a_warning, report.message


def test_tanh_from_an_overflowing_sigmoid_earns_the_identitys_point():
    """tanh = 2 sigmoid(2x) - 1 on the student's overflowing sigmoid lost tanh's point for sigmoid's fault
    (the statement asks for tanh from the student's sigmoid); the check now takes the sigmoid as tanh's
    forward, checks the identity on a right sigmoid and names the sigmoid."""
    namespace = {}
    exec(compile(OVERFLOWING_FORWARDS + "\ndef tanh_from_sigmoid(x):\n    return 2 * sigmoid(2 * x) - 1\n",
                 "<student>", "exec"), namespace)
    tanh, sigmoid = namespace["tanh_from_sigmoid"], namespace["sigmoid"]
    for hidden in (False, True):
        report = CATALOGUE.evaluate("tanh", tanh, sigmoid, hidden=hidden)
        assert report.passed and "but your sigmoid warned" in report.message, report.message
    assert CATALOGUE["tanh"].forward == "sigmoid"
    source = cell_with_id(notebook(CHAPTER), "test_tanh").source
    assert 'grade("tanh", tanh, sigmoid)' in source
    wrong = CATALOGUE.evaluate("tanh", lambda x: 2 * sigmoid(x) - 1, sigmoid)
    assert wrong.status == "failed"


@pytest.mark.parametrize("copy", list(CATALOGUE_MODULE.NNLIB_COPIES), ids=lambda f: f.__name__)
def test_the_catalogues_references_are_nnlibs_exactly(copy):
    """The references of the elementwise exercises are copies of nnlib's code (so that they survive the
    sandbox's stubs): equal to nnlib's, dtype included, on every case of their exercise."""
    name = copy.__name__.removesuffix("_reference")
    original = CATALOGUE_MODULE.NNLIB_COPIES[copy]
    assert CATALOGUE[name].reference is copy and copy in CATALOGUE.forbidden and original in CATALOGUE.forbidden
    for index, case in enumerate(CATALOGUE[name].cases):
        args = case.draw(np.random.default_rng((3, index)))
        ours, theirs = copy(*args), original(*args)
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs), case.description


def test_softmax_backwards_reference_is_nnlibs_layer_pair_exactly():
    exercise = CATALOGUE["softmax_backward"]
    for index, case in enumerate(exercise.cases):
        dout, s, x = case.draw(np.random.default_rng((3, index)))
        theirs = ref.softmax_backward(dout, ref.softmax_forward(x)[1])
        for ours in (exercise.reference(dout, s, x), exercise.solution(dout, s)):
            assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs), case.description
    assert {exercise.reference, exercise.solution} <= set(CATALOGUE.forbidden)


def test_check_cells_run_where_nnlibs_answers_are_stubbed(capsys):
    """In the grader's sandbox the visible check cells of the derivatives and of softmax_backward raised
    the stubs' RuntimeError (their references were nnlib's), a traceback in every student's feedback."""
    namespace = {}
    exec(compile(OVERFLOWING_FORWARDS, "<student>", "exec"), namespace)
    stubbed = [f for f in vars(ref).values() if callable(f) and getattr(f, "__module__", "") == ref.__name__
               and f is not ref.softmax and f in CATALOGUE.forbidden]
    saved = {f: f.__code__ for f in stubbed}
    try:
        for f in stubbed:
            f.__code__ = _stub.__code__
        CATALOGUE.check("sigmoid_derivative", namespace["sigmoid_derivative"], namespace["sigmoid"])
        CATALOGUE.check("relu_derivative", lambda x: (x > 0).astype(x.dtype), lambda x: np.maximum(x, 0))
        CATALOGUE.check("softmax_backward", lambda dout, s: (s * (dout - np.sum(dout * s, axis=-1, keepdims=True))).astype(s.dtype),
                        ref.softmax)
    finally:
        for f, code in saved.items():
            f.__code__ = code
    assert capsys.readouterr().out.count("[PASSED]") == 3


def _stub(*args, **kwargs):
    raise RuntimeError("nnlib's activations is not available while chapter 01_activations is graded")


CLIPPED_SIGMOID = """
import numpy as np

def sigmoid(x):
    return 1 / (1 + np.exp(-np.clip(x, -10, 10)))

def sigmoid_derivative(x):
    s = sigmoid(x)
    return s * (1 - s)
"""


@pytest.mark.parametrize("name, forward, source", [
    ("sigmoid_derivative", "sigmoid", OVERFLOWING_FORWARDS),  # the forward overflows
    ("sigmoid_derivative", "sigmoid", CLIPPED_SIGMOID),  # the forward is wrong
    ("elu_derivative", "elu", OVERFLOWING_FORWARDS),
], ids=["overflowing", "wrong", "elu"])
def test_blame_works_where_nnlibs_answers_are_stubbed(name, forward, source):
    """In the grader's sandbox nnlib's answers raise; the student's side of the check (collect) runs there,
    the verdict (judge) outside. A right derivative on a broken forward passed the local check but scored 0
    in grading, because the check's forward (the spy's comparison and the rerun) was nnlib's. The
    catalogue's own copies keep the two in agreement; shown by stubbing nnlib's forwards during collect as
    the sandbox does (their code replaced, the function objects the catalogue holds kept)."""
    namespace = {}
    exec(compile(source, "<student>", "exec"), namespace)
    saved = {f: f.__code__ for f in CATALOGUE_MODULE.NNLIB_COPIES.values()}
    try:
        for original in saved:
            original.__code__ = _stub.__code__
        with pytest.raises(RuntimeError):
            ref.sigmoid(np.zeros(2))
        records = [CATALOGUE.collect(name, namespace[name], namespace[forward], seed=7, hidden=h) for h in (False, True)]
    finally:
        for original, code in saved.items():
            original.__code__ = code
    for record in records:
        report = CATALOGUE.judge(record)
        assert report.passed and f"but your {forward} " in report.message, report.message


def test_errstate_is_restored_even_when_the_students_function_raises():
    from autograder.exercises import activations as catalogue_module

    errstate, seterr = np.errstate, np.seterr

    def raises(x):
        raise ValueError("no")

    assert CATALOGUE.evaluate("sigmoid", raises).status == "failed"
    assert np.errstate is errstate and np.seterr is seterr
    assert catalogue_module._KeptErrstate is not errstate


def test_nnlibs_other_activations_are_forbidden_too():
    # np.exp(ref.log_softmax(x)) passed the softmax check when only the exercises' own answers were forbidden
    report = CATALOGUE.evaluate("softmax", softmax_from_nnlibs_log_softmax)
    assert report.status == "failed" and "nnlib.activations.log_softmax" in report.message
    report = CATALOGUE.evaluate("relu", lambda x: ref.elementwise_forward(x, "relu")[0])
    assert report.status == "failed" and "calls nnlib's answer" in report.message


STUDENT_CODE = """
def sigmoid(x):
    return 1 / (1 + np.exp(-np.clip(x, -10, 10)))   # wrong far from 0, and no warning

def sigmoid_derivative(x):
    s = sigmoid(x)                                   # reuses the student's sigmoid, as the statement asks
    return s * (1 - s)

def tanh(x):
    raise NotImplementedError()

def tanh_derivative(x):
    t = tanh(x)
    return 1 - t * t
"""


def student_namespace():
    namespace = {"np": np}
    exec(STUDENT_CODE, namespace)  # noqa: S102 - a notebook's namespace, as the student's functions see it
    return namespace


@pytest.mark.parametrize("name, forward, note", [
    ("sigmoid_derivative", "sigmoid", "Your sigmoid_derivative is right on nnlib's sigmoid, but your sigmoid is wrong"),
    ("tanh_derivative", "tanh", "Your tanh_derivative is right on nnlib's tanh, but your tanh still raises NotImplementedError"),
])
def test_a_derivative_is_never_charged_for_its_forwards_fault(name, forward, note):
    """A derivative that calls the student's forward by name is checked on nnlib's forward when the
    student's is wrong or unwritten, and the note names the forward. Before: the derivative failed."""
    if not hasattr(Catalogue, "judge"):
        pytest.skip("this check engine does not run a backward on nnlib's forward yet")
    namespace = student_namespace()
    original = namespace[forward]
    for hidden in (False, True):
        report = CATALOGUE.evaluate(name, namespace[name], namespace[forward], hidden=hidden)
        assert report.passed and note in report.message, str(report)
    assert namespace[forward] is original  # the student's name is bound back after the check


def test_a_derivative_runs_as_written_when_its_forward_is_right():
    namespace = student_namespace()
    exec("def sigmoid(x):\n    e = np.exp(-np.abs(x))\n    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))", namespace)  # noqa: S102
    report = CATALOGUE.evaluate("sigmoid_derivative", namespace["sigmoid_derivative"], namespace["sigmoid"])
    assert report.passed and "nnlib's sigmoid" not in report.message, str(report)


def _family(case, seed=0, slope=False):
    """What a case's first array is like: dtype, number of axes, contiguity, whether it holds |x| >= 100 or only
    |x| < 0.01, and which of its scalar parameters exceed 1."""
    args = case.draw(np.random.default_rng(seed))
    array = args[0]
    magnitude = float(np.abs(array).max())
    # tiny inputs (where a threshold put in place of 0 shows) and, for leaky ReLU, slopes above 1 (where
    # max(x, slope * x) is not leaky ReLU) are families of their own (ELU's alpha spans 1 in every case)
    parameters = tuple(bool(p > 1) for p in args[1:] if np.isscalar(p)) if slope else ()
    return (array.dtype, array.ndim, array.flags.c_contiguous, magnitude >= 100, magnitude < 1e-2, parameters)


@pytest.mark.parametrize("name", list(CATALOGUE.exercises))
def test_every_hidden_family_has_a_visible_case(name):
    """So that a visible check that passes does not hide a hidden case that fails."""
    cases = CATALOGUE[name].cases
    slope = name.startswith("leaky_relu")
    visible = {_family(c, slope=slope) for c in cases if not c.hidden}
    for case in cases:
        if case.hidden:
            assert _family(case, slope=slope) in visible, f"{name}: no visible case like the hidden {case.description!r}"


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


# -- in the grader's sandbox, nnlib's activations are stubs: the figures print one line, not a traceback --


def test_figures_print_a_skipped_line_under_the_grading_stubs(capsys):
    saved = {f: f.__code__ for f in (ref.sigmoid, ref.sigmoid_derivative, ref.tanh, ref.tanh_derivative, ref.relu,
                                     ref.relu_derivative, ref.leaky_relu, ref.leaky_relu_derivative, ref.elu,
                                     ref.elu_derivative, ref.softmax)}

    def stubbed(*args, **kwargs):
        raise RuntimeError("nnlib's activations.x is not available while chapter 01_activations is graded: "
                           "this chapter asks you to write it yourself.")

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    try:
        for f in saved:
            f.__code__ = stubbed.__code__
        assert viz.plot_activation("sigmoid", stub, stub) is None
        assert viz.plot_vanishing_gradient(stub, stub, stub) is None
        assert viz.plot_gallery({}, stub) is None
        assert viz.plot_softmax_jacobian(np.array([1.0, 2.0]), stub) is None
        assert viz.activation_explorer({}) is None
        assert capsys.readouterr().out.count("skipped while this chapter is graded") == 5
        ref.sigmoid.__code__ = boom.__code__
        with pytest.raises(RuntimeError, match="boom"):  # any other error still propagates
            viz.plot_activation("sigmoid", stub, stub)
    finally:
        for f, code in saved.items():
            f.__code__ = code
