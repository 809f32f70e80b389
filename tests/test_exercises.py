"""Every chapter's catalogue of checks: the reference passes, every known mistake is rejected.

These are the tests of the tests: a check that a plausible wrong answer passes would be a defect.
"""

import importlib
import pkgutil

import numpy as np
import pytest

import autograder.exercises
from autograder.checks import Catalogue

CATALOGUES = [
    importlib.import_module(f"autograder.exercises.{m.name}").CATALOGUE
    for m in pkgutil.iter_modules(autograder.exercises.__path__)
    if not m.name.startswith("_")  # shared helpers, not a chapter
]
EXERCISES = [(c, e) for c in CATALOGUES for e in c.exercises.values()]
MISTAKES = [(c, e, m) for c, e in EXERCISES for m in e.mistakes]


def unguarded(catalogue):
    """The same exercises without the ban on calling nnlib: the references and mistakes call it."""
    return Catalogue(catalogue.chapter, catalogue.exercises.values())


def reference_forward(catalogue, exercise):
    return catalogue[exercise.forward].answer if exercise.forward else None


def test_catalogues_are_found():
    assert {c.chapter for c in CATALOGUES} >= {"01_activations"}


@pytest.mark.parametrize("catalogue, exercise", EXERCISES, ids=[f"{c.chapter}-{e.name}" for c, e in EXERCISES])
@pytest.mark.parametrize("seed", [0, 1, 2024])
@pytest.mark.parametrize("hidden", [False, True], ids=["visible", "hidden"])
def test_reference_passes(catalogue, exercise, seed, hidden):
    report = unguarded(catalogue).evaluate(
        exercise.name, exercise.answer, reference_forward(catalogue, exercise), seed=seed, hidden=hidden
    )
    assert report.passed, str(report)


@pytest.mark.parametrize("catalogue, exercise", EXERCISES, ids=[f"{c.chapter}-{e.name}" for c, e in EXERCISES])
def test_every_exercise_has_visible_and_hidden_cases_and_three_mistakes(catalogue, exercise):
    assert any(not c.hidden for c in exercise.cases)
    assert any(c.hidden for c in exercise.cases)
    assert len(exercise.mistakes) >= 3


@pytest.mark.parametrize(
    "catalogue, exercise, mistake", MISTAKES, ids=[f"{c.chapter}-{e.name}-{m.cause[:40]}" for c, e, m in MISTAKES]
)
def test_mistake_is_rejected_and_diagnosed(catalogue, exercise, mistake):
    forward = exercise.forward_reference or reference_forward(catalogue, exercise)
    report = unguarded(catalogue).evaluate(exercise.name, mistake.implementation, forward)
    assert report.status == "failed", str(report)
    assert f"Likely cause: {mistake.cause}" in report.message, report.message


@pytest.mark.parametrize("catalogue, exercise", EXERCISES, ids=[f"{c.chapter}-{e.name}" for c, e in EXERCISES])
def test_calling_the_reference_is_caught(catalogue, exercise):
    if exercise.answer not in catalogue.forbidden:
        pytest.skip("this exercise's answer is not one of nnlib's public functions")
    alias = exercise.answer  # e.g. `from nnlib.activations import sigmoid as my_sigmoid`

    def my_answer(*args):
        return alias(*args)

    report = catalogue.evaluate(exercise.name, my_answer, reference_forward(catalogue, exercise))
    assert report.status == "failed"
    assert "calls nnlib's answer" in report.message


@pytest.mark.parametrize("catalogue, exercise", EXERCISES, ids=[f"{c.chapter}-{e.name}" for c, e in EXERCISES])
def test_a_stub_is_not_attempted(catalogue, exercise):
    def stub(*args):
        raise NotImplementedError

    report = catalogue.evaluate(exercise.name, stub, stub if exercise.forward else None)
    assert report.status == "not attempted"
    assert "NotImplementedError" in report.message


@pytest.mark.parametrize("catalogue, exercise", EXERCISES, ids=[f"{c.chapter}-{e.name}" for c, e in EXERCISES])
def test_a_correct_answer_gets_no_note_on_many_seeds(catalogue, exercise):
    # A passing student must not be told that their forward disagrees with their derivative: the
    # comparison with central differences has to hold on every draw, not only on the visible seed.
    forward = reference_forward(catalogue, exercise)
    for seed in range(25):
        for hidden in (False, True):
            report = unguarded(catalogue).evaluate(exercise.name, exercise.answer, forward, seed=seed, hidden=hidden)
            assert report.passed and "disagrees" not in report.message and "does not match" not in report.message, str(report)


# -- every input family of the hidden cases has a visible case; every argument is varied ----------------


def _array_features(value):
    """What about an array can make an answer pass on one input and fail on another: its dtype
    together with whether it holds huge values (float32 overflows where float64 does not), its
    number of axes, and whether it is a non-contiguous view."""
    with np.errstate(all="ignore"):
        finite = value[np.isfinite(value)] if value.dtype.kind in "fc" else value
        huge = value.dtype.kind in "fc" and finite.size > 0 and float(np.max(np.abs(finite))) >= 100
    return {f"{value.dtype.name}{' huge' if huge else ''}", f"{value.ndim}-D", "a view" if not value.flags.c_contiguous else "contiguous"}


def families(case, args):
    """A case's input families, as (argument position, feature) pairs: its declared ``family``, else
    what its arguments are made of (``_array_features``, or the type of a non-array argument)."""
    if case.family is not None:
        return {("declared", case.family)}
    found = set()
    for position, value in enumerate(args):
        if isinstance(value, np.ndarray):
            found |= {(position, f) for f in _array_features(value)}
        elif isinstance(value, dict):
            found |= {(position, f) for v in value.values() if isinstance(v, np.ndarray) for f in _array_features(v)}
        elif not callable(value):
            found.add((position, type(value).__name__))
    return found


@pytest.mark.parametrize("catalogue, exercise", EXERCISES, ids=[f"{c.chapter}-{e.name}" for c, e in EXERCISES])
def test_every_hidden_input_family_has_a_visible_case(catalogue, exercise):
    # Otherwise the visible check can show full marks where grading will not.
    visible, hidden = set(), {}
    for flag in (False, True):
        for index, case in enumerate(c for c in exercise.cases if c.hidden == flag):
            for seed in (0, 1):
                found = families(case, case.draw(np.random.default_rng((seed, index))))
                if flag:
                    for f in found:
                        hidden.setdefault(f, case.description)
                else:
                    visible |= found
    names = exercise.arg_names
    missing = sorted((f, d) for f, d in hidden.items() if f not in visible)
    assert not missing, "hidden inputs of a family no visible case has: " + "; ".join(
        f"{d!r}: {names[p] if isinstance(p, int) and p < len(names) else p} {feature}" for (p, feature), d in missing)


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype \
            and np.array_equal(a, b, equal_nan=True)
    if callable(a) or callable(b):
        return False  # a function drawn per case (e.g. the f of numerical_gradient) differs by construction
    try:
        return bool(a == b)
    except Exception:
        return False


@pytest.mark.parametrize("catalogue, exercise", EXERCISES, ids=[f"{c.chapter}-{e.name}" for c, e in EXERCISES])
def test_every_argument_is_varied_across_the_cases(catalogue, exercise):
    drawn = [case.draw(np.random.default_rng((seed, index)))
             for seed in (0, 1) for index, case in enumerate(exercise.cases)]
    width = max(len(args) for args in drawn)
    constant = [position for position in range(width)
                if all(len(args) == width for args in drawn) and all(_same(drawn[0][position], args[position]) for args in drawn[1:])]
    names = [exercise.arg_names[p] if p < len(exercise.arg_names) else f"argument {p + 1}" for p in constant]
    assert not constant, f"{exercise.name}: the same {', '.join(names)} in every case"
