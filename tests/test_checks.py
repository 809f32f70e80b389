"""The check engine: each kind of wrong answer gets its own clear sentence."""

import sys
import warnings

import numpy as np
import pytest

from autograder.checks import Case, Catalogue, CheckFailed, Exercise, Mistake, NotAttempted, trusted
from autograder.exercises.activations import CATALOGUE as ACTIVATIONS
from nnlib import activations as ref
from nnlib.gradcheck import numerical_derivative


def square(x):
    return x * x


SQUARE = Exercise(
    "square",
    square,
    (
        Case("a (3, 4) array", lambda rng: (rng.standard_normal((3, 4)),)),
        Case("float32 numbers", lambda rng: (rng.standard_normal(5).astype(np.float32),)),
        Case("a hidden (2, 2, 2) array", lambda rng: (rng.standard_normal((2, 2, 2)),), hidden=True),
    ),
    mistakes=(Mistake("doubling is not squaring", lambda x: 2 * x),),
)
SQUARE_DERIVATIVE = Exercise(
    "square_derivative",
    lambda x: 2 * x,
    (Case("a (6,) array", lambda rng: (rng.standard_normal(6),)),),
    forward="square",
    numerical=lambda forward, x: numerical_derivative(forward, x),
)
CATALOGUE = Catalogue("00_test", (SQUARE, SQUARE_DERIVATIVE), forbidden=(square,))


def evaluate(function, name="square", forward=None, **kwargs):
    return CATALOGUE.evaluate(name, function, forward, **kwargs)


def test_a_correct_answer_passes_and_names_its_cases():
    report = evaluate(lambda x: x**2)
    assert report.passed
    assert "a (3, 4) array" in report.message and "float32 numbers" in report.message


def test_a_stub_is_not_attempted():
    def square(x):
        raise NotImplementedError()

    report = evaluate(square)
    assert report.status == "not attempted"
    assert report.message == "not attempted yet (square still raises NotImplementedError)."


@pytest.mark.parametrize(
    "answer, expected",
    [
        (lambda x: (x**2).tolist(), "should be a numpy array of shape (3, 4), got list"),
        (lambda x: (x**2).T, "should have shape (3, 4), got (4, 3) (transposed?)"),
        (lambda x: (x**2).ravel(), "should have shape (3, 4), got (12,)"),
        (lambda x: np.asarray(x, dtype=np.float64) ** 2, "should have dtype float32 (the dtype of the inputs), got float64"),
        (lambda x: np.where(x > 1, np.nan, x**2), "holds nan at index"),
        (lambda x: np.ma.masked_array(x**2), "should be a plain numpy array, got the subclass MaskedArray"),
        (lambda x: float(np.sum(x**2)), "should be a numpy array of shape (3, 4), got float"),
    ],
    ids=["list", "transposed", "flattened", "dtype", "nan", "subclass", "scalar"],
)
def test_type_shape_dtype_and_nan_each_get_a_sentence(answer, expected):
    report = evaluate(answer)
    assert report.status == "failed"
    assert expected in report.message


def test_wrong_values_report_the_worst_element_and_the_likely_cause():
    report = evaluate(lambda x: 2 * x)
    assert report.status == "failed"
    assert "On a (3, 4) array: the result is wrong: " in report.message
    assert "the worst is at index (" in report.message and "(x = " in report.message  # named as the student's signature names it
    assert "relative error" in report.message and "tolerance 1e-07" in report.message
    assert "Likely cause: doubling is not squaring." in report.message


def test_an_error_just_above_the_tolerance_fails_and_just_below_passes():
    assert not evaluate(lambda x: x**2 * (1 + 1e-6)).passed
    assert evaluate(lambda x: x**2 * (1 + 1e-9)).passed


def test_an_exception_is_reported_not_raised():
    report = evaluate(lambda x: x @ x)
    assert report.status == "failed"
    assert "raised ValueError: matmul" in report.message


def test_modifying_the_input_is_reported():
    def square(x):
        x *= x
        return x

    report = evaluate(square)
    assert "modified its input x (argument 1) in place" in report.message


def test_an_overflow_is_a_stability_bug_but_underflow_is_not():
    big = Exercise("exp_neg", lambda x: np.exp(-np.abs(x)), (Case("huge", lambda rng: (np.array([-1e4, 0.0, 1e4]),)),), mistakes=())
    catalogue = Catalogue("t", (big,))
    assert catalogue.evaluate("exp_neg", lambda x: np.exp(-np.abs(x))).passed  # exp(-1e4) underflows to 0: fine
    report = catalogue.evaluate("exp_neg", lambda x: 1 / np.exp(np.abs(x)))  # exp(1e4) overflows
    assert report.status == "failed"
    assert 'numerical warning "overflow encountered in exp"' in report.message


def test_calling_the_reference_is_caught_through_an_alias():
    alias = square

    def my_square(x):
        return alias(x)

    report = evaluate(my_square)
    assert "calls nnlib's answer" in report.message and "square" in report.message


def test_the_check_leaves_the_profiler_as_it_was():
    before = sys.getprofile()
    evaluate(lambda x: x**2)
    assert sys.getprofile() is before


def test_stderr_from_the_student_is_swallowed(capsys):
    def noisy_square(x):
        print("debugging", file=sys.stderr)
        return x**2

    assert evaluate(noisy_square).passed
    assert capsys.readouterr().err == ""


def test_hidden_cases_run_only_when_asked():
    seen = []

    def recording_square(x):
        seen.append(x.shape)
        return x**2

    evaluate(recording_square)
    assert (2, 2, 2) not in seen
    evaluate(recording_square, hidden=True)
    assert seen[-1] == (2, 2, 2)


def test_a_derivative_is_compared_with_the_students_own_forward():
    def my_square(x):
        return x**3  # wrong forward

    report = evaluate(lambda x: 3 * x**2, "square_derivative", my_square)  # consistent with the wrong forward
    assert report.status == "failed"
    assert "does match a numerical derivative of your own square, so fix square first" in report.message

    report = evaluate(lambda x: 2 * x, "square_derivative", my_square)  # right, but the forward is wrong
    assert report.passed
    assert "your square disagrees with it" in report.message


def test_a_derivative_needs_its_forward():
    report = evaluate(lambda x: 2 * x, "square_derivative")
    assert "pass your forward function too" in report.message


def test_visible_checks_are_reproducible_and_graded_checks_are_fresh():
    drawn = []

    def recording_square(x):
        drawn.append(x.copy())
        return x**2

    evaluate(recording_square)
    evaluate(recording_square)
    assert np.array_equal(drawn[0], drawn[2])  # same seed, same inputs
    drawn.clear()
    CATALOGUE.grade("square", recording_square)
    CATALOGUE.grade("square", recording_square)
    assert not np.array_equal(drawn[0], drawn[2])


def test_a_hard_coded_answer_passes_nothing():
    inputs = SQUARE.cases[0].draw(np.random.default_rng((0, 0)))[0]
    memorised = inputs**2
    report = evaluate(lambda x: memorised.copy())
    assert report.status == "failed"  # it fails even the visible check's second case
    with pytest.raises(CheckFailed):
        CATALOGUE.grade("square", lambda x: memorised.copy() if x.shape == memorised.shape else x**2)


def test_grade_raises_with_a_message_that_reproduces_the_failure():
    with pytest.raises(CheckFailed) as failure:
        CATALOGUE.grade("square", lambda x: 2 * x)
    message = str(failure.value)
    seed = int(message.split("seed=")[1].split(")")[0])
    assert evaluate(lambda x: 2 * x, seed=seed).message == message


def test_grade_raises_not_attempted_for_a_stub():
    def square(x):
        raise NotImplementedError

    with pytest.raises(NotAttempted):
        CATALOGUE.grade("square", square)


def test_check_prints_and_never_raises(capsys):
    CATALOGUE.check("square", lambda x: 2 * x)
    assert capsys.readouterr().out.startswith("[FAILED] square: ")


def test_an_unknown_exercise_names_the_known_ones():
    with pytest.raises(KeyError, match="it has square, square_derivative"):
        CATALOGUE.evaluate("cube", square)


def test_ipython_shows_only_the_message():
    assert CheckFailed("shape is wrong")._render_traceback_() == ["CheckFailed: shape is wrong"]


def test_a_real_exercise_end_to_end():
    def sigmoid(x):
        return 1 / (1 + np.exp(-x))  # overflows at x = -1000

    report = ACTIVATIONS.evaluate("sigmoid", sigmoid)
    assert report.status == "failed"
    assert "On inputs of magnitude 1000 and more, both signs: numerical warning" in report.message

    def stable_sigmoid(x):
        return np.exp(-np.logaddexp(0, -x))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ACTIVATIONS.evaluate("sigmoid", stable_sigmoid).passed
        assert ACTIVATIONS.evaluate("sigmoid", stable_sigmoid, hidden=True).passed
    assert ACTIVATIONS.evaluate("sigmoid", ref.sigmoid).status == "failed"


def test_a_mistake_that_gives_nan_is_not_blamed_for_finite_wrong_values():
    nan_mistake = Mistake("gives NaN", lambda x: np.full_like(x, np.nan))
    exercise = Exercise("square", square, SQUARE.cases[:1], mistakes=(nan_mistake,) + SQUARE.mistakes)
    report = Catalogue("t", (exercise,)).evaluate("square", lambda x: 2 * x)
    assert "Likely cause: doubling is not squaring." in report.message


def test_after_an_overflow_the_mistake_that_overflows_is_named_first():
    cases = (Case("huge", lambda rng: (np.array([-1e4, 1e4]),)),)
    exercise = Exercise(
        "sig",
        ref.sigmoid,
        cases,
        mistakes=(
            Mistake("clipped", lambda x: ref.sigmoid(np.clip(x, -800, 800))),  # same values, no warning
            Mistake("naive formula overflows", lambda x: 1 / (1 + np.exp(-x))),
        ),
    )
    report = Catalogue("t", (exercise,)).evaluate("sig", lambda x: 1 / (1 + np.exp(-x)))
    assert "Likely cause: naive formula overflows." in report.message


def test_a_dtype_mistake_gets_no_hint_about_the_forward():
    report = evaluate(lambda x: (2 * x).astype(np.float32), "square_derivative", lambda x: x**2)
    assert "should have dtype float64" in report.message
    assert "numerical derivative" not in report.message


def test_a_trusted_function_handed_to_the_student_is_not_blamed():
    given = trusted(square)  # e.g. a loss function the check passes to a student's training loop
    exercise = Exercise("apply", lambda x: x**2, SQUARE.cases[:1], run=lambda f, forward, x: f(given, x))
    catalogue = Catalogue("t", (exercise,), forbidden=(square,))
    assert catalogue.evaluate("apply", lambda g, x: g(x)).passed
    report = catalogue.evaluate("apply", lambda g, x: square(x))
    assert "calls nnlib's answer" in report.message


def test_a_sliced_view_reaches_the_student_as_a_strided_array():
    """Regression: the copy made for the student turned x[:, ::2] into a contiguous array, so a case
    promising a sliced view never tested one."""
    from autograder.checks import _copy_args

    x = np.arange(24.0).reshape(4, 6)
    (copy,) = _copy_args((x[:, ::2],))
    assert not copy.flags.c_contiguous and not copy.flags.f_contiguous
    np.testing.assert_array_equal(copy, x[:, ::2])
    assert copy.base is not x and not np.shares_memory(copy, x)
    (transposed,) = _copy_args((x.T,))
    assert transposed.flags.f_contiguous and not np.shares_memory(transposed, x)
    cube = np.arange(24.0).reshape(2, 3, 4)
    (permuted,) = _copy_args((cube.transpose(1, 0, 2),))  # dense, axes permuted: stays permuted
    assert permuted.strides == cube.transpose(1, 0, 2).strides
    (sliced_permuted,) = _copy_args((cube.transpose(2, 0, 1)[::2],))
    np.testing.assert_array_equal(sliced_permuted, cube.transpose(2, 0, 1)[::2])
    assert not sliced_permuted.flags.c_contiguous and not sliced_permuted.flags.f_contiguous
