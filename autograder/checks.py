"""Checks of a student's function against nnlib, each exercise declared once, as data.

A chapter's exercises are a ``Catalogue`` of ``Exercise`` declarations in
``autograder.exercises.<topic>``. Its notebook imports two functions bound to the catalogue:

- ``check(name, function)`` in the visible cell: a fixed seed, prints a report, never raises;
- ``grade(name, function)`` in the graded cells: a fresh seed every run (nothing can be
  hard-coded), raises ``CheckFailed`` with the reason, or ``NotAttempted``.

A check draws inputs for every case, calls the student's function on copies, and compares the
result with the reference. It reports, in one sentence each: not attempted yet; an exception;
a numerical warning (a stability bug); modified inputs; a call to nnlib's own answer; the wrong
type, shape or dtype; NaN or inf; and values off by more than the tolerance, with the worst
element, and the likely cause when the result matches a known mistake of that exercise. For a
derivative or backward pass it also compares with a numerical gradient of the student's own
forward. Every failure says how to reproduce it: ``check(name, function, seed=...)``.

The declarations hold only pure functions of their arguments, so a trusted process outside the
student's kernel can run the same checks on results the student's code computed.
"""

import contextlib
import functools
import io
import secrets
import sys
import traceback
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from nnlib.gradcheck import rel_error
from nnlib.tolerances import CHECK_ATOL, CHECK_RTOL, FLOAT32_ATOL, FLOAT32_RTOL, GRAD_ATOL, GRAD_RTOL

#: Floating-point events reported as stability bugs. Underflow is not one: exp(-1000) is 0, correctly.
NUMERICAL_WARNINGS = {"over": "warn", "divide": "warn", "invalid": "warn", "under": "ignore"}

#: The seed of the visible check cells: the same inputs on every run, so a student can compare runs.
VISIBLE_SEED = 0


class CheckFailed(AssertionError):
    """A student's function gave a wrong result; the message says what and why."""

    def _render_traceback_(self):
        # IPython shows this instead of a traceback through the checker's internals.
        return [f"{type(self).__name__}: {self}"]


class NotAttempted(CheckFailed):
    """The exercise still raises NotImplementedError."""


class _Stop(Exception):
    """Internal: ends a check early with a report."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Case:
    """One way to draw inputs: ``draw(rng) -> tuple`` of positional arguments for the reference."""

    description: str
    draw: Callable
    hidden: bool = False  # drawn only by the graded cells' hidden tests


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong implementation, with the sentence that explains it to a student.

    ``implementation`` takes the same arguments as the student's function. The tests prove that
    each one is rejected and diagnosed; the checks name ``cause`` when a result matches it.
    """

    cause: str
    implementation: Callable


def call_directly(function, forward, *args):
    """The default way to run an exercise: ``function(*args)``."""
    return function(*args)


@dataclass(frozen=True)
class Exercise:
    """An exercise: the reference, the inputs to try, and how a student's function is run.

    Attributes
    ----------
    name : the function's name in the notebook, e.g. ``"sigmoid"``
    reference : ``reference(*args) -> expected`` (an array, a float, or a tuple of them)
    cases : the ``Case``s to draw inputs from
    mistakes : known wrong implementations, for diagnosis
    outputs : names of the outputs when ``reference`` returns a tuple, e.g. ``("loss", "dx")``
    run : ``run(function, forward, *args)`` gives the student's outputs; a backward pass uses it
        to feed its own forward's cache, e.g. ``lambda bwd, fwd, x, dout: bwd(dout, fwd(x)[1])``
    forward : name of the exercise whose function is the forward of this one (or None)
    forward_reference : the reference forward, used to run the mistakes of a backward pass
    numerical : ``numerical(forward, *args)`` gives, by finite differences of ``forward``, what
        this exercise should return; checked against the student's own forward
    arg_names : names of the case's arguments, for messages (default: "argument 1", ...)
    solution : nnlib's answer called like the student's function, where that differs from
        ``reference`` (a backward pass takes ``(dout, cache)``, its reference the case's arguments);
        the tests of the catalogue run it through ``run`` as if a student had written it
    """

    name: str
    reference: Callable
    cases: tuple
    mistakes: tuple = ()
    outputs: tuple = ()
    run: Callable = call_directly
    forward: str = None
    forward_reference: Callable = None
    numerical: Callable = None
    solution: Callable = None
    arg_names: tuple = ()
    rtol: float = CHECK_RTOL
    atol: float = CHECK_ATOL

    @property
    def answer(self):
        """nnlib's answer with the student's signature."""
        return self.solution or self.reference


@dataclass
class Report:
    """The outcome of one check."""

    name: str
    status: str  # "passed", "failed" or "not attempted"
    message: str
    seed: int

    @property
    def passed(self):
        return self.status == "passed"

    def __str__(self):
        mark = {"passed": "PASSED", "failed": "FAILED", "not attempted": "NOT ATTEMPTED"}[self.status]
        return f"[{mark}] {self.name}: {self.message}"


class _ReferenceCallDetector:
    """Records whether any of the given functions is called while it is active (aliases included).

    It matches code objects, so ``from nnlib.activations import sigmoid as s`` is caught as well.
    """

    def __init__(self, functions):
        self._codes = {f.__code__: f for f in functions}
        self.called = None

    def _profile(self, frame, event, arg):
        if event == "call" and self.called is None and frame.f_code in self._codes:
            self.called = self._codes[frame.f_code]

    def __enter__(self):
        self._previous = sys.getprofile()
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc):
        sys.setprofile(self._previous)
        return False


def trusted(function):
    """``function``, to be handed to a student's code by a check, with the detector of calls to
    nnlib's answers paused while it runs: what it calls is the check's doing, not the student's.

    E.g. the loss function a check passes to a student's training loop.
    """

    @functools.wraps(function)
    def call(*args, **kwargs):
        detector = sys.getprofile()
        sys.setprofile(None)
        try:
            return function(*args, **kwargs)
        finally:
            sys.setprofile(detector)

    return call


def _qualified(function):
    return f"{function.__module__}.{function.__qualname__}"


def _copy_args(args):
    return tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args)


def _as_tuple(value, count):
    return value if count else (value,)


def _describe_type(value):
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}" if np.isscalar(value) else type(value).__name__


def _compare_value(expected, actual, label, exercise, args):
    """Return None if ``actual`` matches ``expected`` at the exercise's tolerance, else a sentence."""
    with np.errstate(all="ignore"):  # inf - inf in a mistake's result must not warn
        return _compare_finite(expected, actual, label, exercise, args)


def _compare_finite(expected, actual, label, exercise, args):
    rtol, atol = exercise.rtol, exercise.atol
    if any(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in args):
        # computed from float32 inputs (a loss is a Python float even then): compare at float32 precision
        rtol, atol = max(rtol, FLOAT32_RTOL), max(atol, FLOAT32_ATOL)
    if isinstance(expected, np.ndarray):
        if not isinstance(actual, np.ndarray):
            return f"{label} should be a numpy array of shape {expected.shape}, got {_describe_type(actual)}."
        if type(actual) is not np.ndarray:
            return f"{label} should be a plain numpy array, got the subclass {type(actual).__name__}."
        if actual.shape != expected.shape:
            hint = " (transposed?)" if actual.shape == expected.shape[::-1] else ""
            return f"{label} should have shape {expected.shape}, got {actual.shape}{hint}."
        if actual.dtype != expected.dtype:
            like_inputs = " (the dtype of the inputs)" if any(getattr(a, "dtype", None) == expected.dtype for a in args) else ""
            return f"{label} should have dtype {expected.dtype}{like_inputs}, got {actual.dtype}."
        exp, act = expected.astype(np.float64), actual.astype(np.float64)
        if expected.dtype == np.float32:  # float32 carries 7 digits: compare at its own precision
            rtol, atol = max(rtol, FLOAT32_RTOL), max(atol, FLOAT32_ATOL)
    else:
        if isinstance(actual, np.ndarray) and actual.ndim == 0:
            actual = actual[()]
        if not isinstance(actual, (int, float, np.integer, np.floating)) or isinstance(actual, bool):
            return f"{label} should be a number, got {_describe_type(actual)}."
        exp, act = np.float64(expected), np.float64(actual)
    nonfinite_expected = ~np.isfinite(exp)
    # Only a mistake's result holds inf or NaN: an overflow matches an overflow, whatever its sign or kind.
    if np.any(nonfinite_expected & np.isfinite(act)):
        index = _index(np.argwhere(nonfinite_expected & np.isfinite(act))[0]) if np.ndim(exp) else ()
        return f"{label} should hold {np.asarray(exp)[index]} at index {index}, got {np.asarray(act)[index]}."
    exp, act = np.where(nonfinite_expected, 0.0, exp), np.where(nonfinite_expected, 0.0, act)
    bad = ~np.isfinite(act)
    if np.any(bad):
        index = _index(np.argwhere(bad)[0]) if np.ndim(act) else ()
        return f"{label} holds {np.asarray(act)[index]} at index {index}{_input_at(exercise, args, index, exp)}, where {np.asarray(exp)[index]:.6g} was expected."
    excess = np.abs(act - exp) - (rtol * np.abs(exp) + atol)
    if not np.any(excess > 0):
        return None
    worst = _index(np.unravel_index(np.argmax(excess), np.shape(exp))) if np.ndim(exp) else ()
    e, a = np.asarray(exp)[worst], np.asarray(act)[worst]
    wrong = int(np.count_nonzero(excess > 0))
    where = f"{wrong} of {np.size(exp)} elements are off; the worst is at index {worst}{_input_at(exercise, args, worst, exp)}: " if np.ndim(exp) else ""
    if abs(e) > atol:
        error = f"relative error {abs(a - e) / abs(e):.1e}, tolerance {rtol:.0e}"
    else:  # a relative error against 0 means nothing
        error = f"absolute error {abs(a - e):.1e}, tolerance {atol:.0e} near 0"
    return f"{label} is wrong: {where}expected {e:.6g}, got {a:.6g} ({error})."


def _arg_name(exercise, position):
    names = exercise.arg_names
    return names[position] if position < len(names) else f"(argument {position + 1})"


def _index(index):
    return tuple(int(i) for i in index)


def _input_at(exercise, args, index, expected):
    """For elementwise exercises, the input value at the worst index (helps to see a sign or a kink)."""
    if args and isinstance(args[0], np.ndarray) and args[0].shape == np.shape(expected) and index != ():
        name = exercise.arg_names[0] if exercise.arg_names else "input"
        return f" ({name} {args[0][index]:.6g})"
    return ""


def _agrees_numerically(numeric, actual):
    """Whether ``actual`` matches central differences ``numeric`` where they are defined (NaN marks a
    kink): ``|actual - numeric| <= GRAD_RTOL * scale + GRAD_ATOL``. None if nothing can be compared."""
    numeric = np.asarray(numeric, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    defined = np.isfinite(numeric)
    if not defined.any():
        return None
    numeric, actual = numeric[defined], actual[defined]
    scale = max(np.abs(numeric).max(), np.abs(actual).max())
    return bool(np.abs(actual - numeric).max() <= GRAD_RTOL * scale + GRAD_ATOL)


def _all_float64(values):
    return all(v.dtype == np.float64 for v in values if isinstance(v, np.ndarray))


def _same_layout(expected, actual):
    """True if ``actual`` has the structure, shapes and dtypes of ``expected`` (values aside)."""
    if isinstance(expected, tuple):
        return isinstance(actual, (tuple, list)) and len(actual) == len(expected) and all(
            _same_layout(e, a) for e, a in zip(expected, actual)
        )
    if isinstance(expected, np.ndarray):
        return isinstance(actual, np.ndarray) and actual.shape == expected.shape and actual.dtype == expected.dtype
    return np.ndim(actual) == 0


def _compare(expected, actual, exercise, args):
    names = exercise.outputs
    if names:
        if not isinstance(actual, (tuple, list)) or len(actual) != len(names):
            return f"should return a tuple ({', '.join(names)}), got {_describe_type(actual)}."
        for name, e, a in zip(names, expected, actual):
            problem = _compare_value(e, a, name, exercise, args)
            if problem:
                return problem
        return None
    return _compare_value(expected, actual, "the result", exercise, args)


class Catalogue:
    """A chapter's exercises, and the ``check``/``grade`` functions its notebook uses.

    ``forbidden`` lists the nnlib functions that this chapter asks students to write: calling one
    of them from an exercise fails it.
    """

    def __init__(self, chapter, exercises, forbidden=()):
        self.chapter = chapter
        self.exercises = {e.name: e for e in exercises}
        self.forbidden = tuple(forbidden)

    def __getitem__(self, name):
        if name not in self.exercises:
            raise KeyError(f"{self.chapter} has no exercise {name!r}; it has {', '.join(self.exercises)}.")
        return self.exercises[name]

    # -- what the notebooks call -------------------------------------------------------------

    def check(self, name, function, forward=None, *, seed=VISIBLE_SEED, hidden=False):
        """Run the visible check of exercise ``name`` and print a report (never raises)."""
        print(self.evaluate(name, function, forward, seed=seed, hidden=hidden))

    def grade(self, name, function, forward=None, *, hidden=False):
        """Run the graded check with a fresh seed; raise ``CheckFailed`` or ``NotAttempted`` unless it passes."""
        report = self.evaluate(name, function, forward, seed=secrets.randbelow(10**9), hidden=hidden)
        if report.status == "not attempted":
            raise NotAttempted(report.message)
        if not report.passed:
            raise CheckFailed(report.message)
        print(report)

    # -- the check itself ---------------------------------------------------------------------

    def evaluate(self, name, function, forward=None, *, seed=VISIBLE_SEED, hidden=False):
        """Check ``function`` on every case of exercise ``name`` (the hidden ones if ``hidden``); return a Report."""
        exercise = self[name]
        cases = [c for c in exercise.cases if c.hidden == hidden]
        reproduce = f"Reproduce it with check({name!r}, {name}{', ' + exercise.forward if exercise.forward else ''}, seed={seed}{', hidden=True' if hidden else ''})."
        notes = []
        try:
            if not callable(function):
                raise _Stop("failed", f"expected a function, got {_describe_type(function)}.")
            if exercise.forward and forward is None:
                raise _Stop("failed", f"pass your forward function too: check({name!r}, {name}, {exercise.forward}).")
            for index, case in enumerate(cases):
                args = case.draw(np.random.default_rng((seed, index)))
                notes += self._check_case(exercise, case, args, function, forward, reproduce)
        except _Stop as stop:
            return Report(name, stop.status, stop.message, seed)
        summary = f"correct on {len(cases)} {'hidden ' if hidden else ''}cases ({'; '.join(c.description for c in cases)})."
        return Report(name, "passed", " ".join([summary] + sorted(set(notes))), seed)

    def _check_case(self, exercise, case, args, function, forward, reproduce):
        expected = exercise.reference(*_copy_args(args))
        actual = self._call_student(exercise, case, args, function, forward, reproduce)
        on_case = f"On {case.description}: "
        problem = _compare(expected, actual, exercise, args)
        # A wrong shape or dtype says nothing about the derivative's values: no hint about the forward then.
        consistency = self._numerical_consistency(exercise, args, actual, forward) if _same_layout(expected, actual) else None
        if problem is None:
            if consistency == "inconsistent" and exercise.forward == exercise.name:
                return [f"Your {exercise.name} is right, but its gradient does not match a numerical derivative of its loss."]
            if consistency == "inconsistent":
                return [f"Your {exercise.name} is right, but your {exercise.forward} disagrees with it: check {exercise.forward}."]
            return []
        cause = self._likely_cause(exercise, args, actual)
        hint = f" Likely cause: {cause}." if cause else ""
        if consistency == "consistent" and exercise.forward == exercise.name:  # a (loss, gradient) exercise
            hint += " Your gradient does match a numerical derivative of your loss, so the loss itself is wrong."
        elif consistency == "consistent":
            hint += f" It does match a numerical derivative of your own {exercise.forward}, so fix {exercise.forward} first."
        elif consistency == "inconsistent" and exercise.forward == exercise.name:
            hint += " Your gradient does not match a numerical derivative of your own loss either."
        elif consistency == "inconsistent":
            hint += f" It does not match a numerical derivative of your {exercise.forward} either."
        raise _Stop("failed", f"{on_case}{problem}{hint} {reproduce}")

    def _call_student(self, exercise, case, args, function, forward, reproduce):
        copies = _copy_args(args)
        on_case = f"On {case.description}: "
        detector = _ReferenceCallDetector(self.forbidden)
        try:
            # stderr from the student's code is swallowed: nbgrader zeroes a test cell that writes to it.
            with warnings.catch_warnings(record=True) as caught, np.errstate(**NUMERICAL_WARNINGS), \
                    contextlib.redirect_stderr(io.StringIO()), detector:
                warnings.simplefilter("always")
                actual = exercise.run(function, forward, *copies)
        except NotImplementedError as error:
            who = traceback.extract_tb(error.__traceback__)[-1].name  # the stub that raised: this one or its forward
            raise _Stop("not attempted", f"not attempted yet ({who} still raises NotImplementedError).")
        except Exception as error:  # the student's code raised: report it, do not crash the check
            raise _Stop("failed", f"{on_case}{exercise.name} raised {type(error).__name__}: {error} {reproduce}")
        if detector.called is not None:
            raise _Stop(
                "failed",
                f"{exercise.name} calls nnlib's answer {_qualified(detector.called)}: this chapter asks you to write it yourself.",
            )
        numeric_warnings = [w for w in caught if issubclass(w.category, RuntimeWarning)]
        if numeric_warnings:
            cause = self._likely_cause(exercise, args, actual, warned=True)
            raise _Stop(
                "failed",
                f"{on_case}numerical warning \"{numeric_warnings[0].message}\": an overflow or a division by zero is a "
                f"stability bug; rewrite the formula so that no intermediate value overflows."
                f"{f' Likely cause: {cause}.' if cause else ''} {reproduce}",
            )
        for position, (before, after) in enumerate(zip(args, copies)):
            if isinstance(before, np.ndarray) and not np.array_equal(before, after, equal_nan=True):
                raise _Stop(
                    "failed",
                    f"{exercise.name} modified its input {_arg_name(exercise, position)} in place: "
                    f"return a new array instead. {reproduce}",
                )
        return actual

    def _numerical_consistency(self, exercise, args, actual, forward):
        """'consistent', 'inconsistent', or None when there is nothing to compare."""
        if exercise.numerical is None or forward is None:
            return None
        outputs = actual if exercise.outputs else (actual,)
        if not _all_float64(args) or not _all_float64(outputs):
            return None  # central differences cannot judge float32 at the gradient tolerance
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"), contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                numeric = exercise.numerical(forward, *_copy_args(args))
            got = actual if exercise.outputs else (actual,)
            want = numeric if exercise.outputs else (numeric,)
            verdicts = [_agrees_numerically(n, a) for n, a in zip(want, got) if n is not None]
            verdicts = [v for v in verdicts if v is not None]
        except Exception:  # a broken forward or a wrong shape: the reference comparison reports it
            return None
        if not verdicts:
            return None
        return "consistent" if all(verdicts) else "inconsistent"

    def _likely_cause(self, exercise, args, actual, warned=False):
        """The cause of the first known mistake whose result matches ``actual``.

        After a numerical warning, mistakes that warn too are tried first: on huge inputs an
        overflowing formula and a merely wrong one can give the same numbers.
        """
        matches = []
        for mistake in exercise.mistakes:
            try:
                with warnings.catch_warnings(record=True) as caught, np.errstate(**NUMERICAL_WARNINGS):
                    warnings.simplefilter("always")
                    wrong = exercise.run(mistake.implementation, exercise.forward_reference, *_copy_args(args))
            except Exception:
                continue
            if _compare(wrong, actual, exercise, args) is None:
                mistake_warned = any(issubclass(w.category, RuntimeWarning) for w in caught)
                matches.append((mistake_warned != warned, mistake.cause))
        return min(matches, key=lambda match: match[0])[1] if matches else None

    def bind(self):
        """The ``check`` and ``grade`` functions a notebook imports."""
        return self.check, self.grade

