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
