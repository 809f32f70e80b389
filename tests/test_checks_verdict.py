"""The two-phase check: ``collect`` on the student's side, ``judge`` on the trusted side.

``judge(collect(x))`` must give the Report ``evaluate(x)`` gives, through the file format too, for
nnlib's answer, every catalogued mistake and a stub of every exercise; a forged, malformed or
oversized record gives a failed Report (never an exception); a record of another seed is rejected.
"""

import importlib
import json
import pkgutil
import time
import warnings
import zipfile

import numpy as np
import pytest

import autograder.exercises
from autograder.checks import (
    Case,
    Catalogue,
    CollectedFormatError,
    Exercise,
    Mistake,
    NotAttempted,
    load_collected,
    save_collected,
)


def _catalogues():
    found = []
    for info in pkgutil.iter_modules(autograder.exercises.__path__):
        try:
            module = importlib.import_module(f"autograder.exercises.{info.name}")
        except Exception:  # a chapter being written: its own tests report it
            continue
        if hasattr(module, "CATALOGUE"):
            found.append(module.CATALOGUE)
    return found


CATALOGUES = _catalogues()
EXERCISES = [(c, e) for c in CATALOGUES for e in c.exercises.values()]


def unguarded(catalogue):
    return Catalogue(catalogue.chapter, catalogue.exercises.values())


def _stub(*args, **kwargs):
    raise NotImplementedError


def answers(catalogue, exercise):
    """(label, function, forward): nnlib's answer, every mistake, and a stub."""
    forward = catalogue[exercise.forward].answer if exercise.forward else None
    mistakes_forward = exercise.forward_reference or forward
    yield "answer", exercise.answer, forward
    for mistake in exercise.mistakes:
        yield mistake.cause[:40], mistake.implementation, mistakes_forward
    yield "stub", _stub, _stub if exercise.forward else None


@pytest.mark.parametrize("catalogue, exercise", EXERCISES, ids=[f"{c.chapter}-{e.name}" for c, e in EXERCISES])
def test_judge_of_collect_is_evaluate_through_the_file_format(catalogue, exercise, tmp_path):
    catalogue = unguarded(catalogue)
    path = tmp_path / "record.npz"
    trials = list(answers(catalogue, exercise))
    start = time.perf_counter()
    catalogue.evaluate(exercise.name, exercise.answer, trials[0][2], seed=5)
    if time.perf_counter() - start > 0.5:  # a training loop: the answer, one mistake and the stub
        trials = trials[:2] + trials[-1:]
    for label, function, forward in trials:
        for hidden in (False, True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = catalogue.evaluate(exercise.name, function, forward, seed=5, hidden=hidden)
                collected = catalogue.collect(exercise.name, function, forward, seed=5, hidden=hidden)
            assert catalogue.judge(collected) == expected, label
            save_collected(collected, path)
            assert catalogue.judge(load_collected(path), seed=5) == expected, label


# -- a small catalogue for the record's edge cases ---------------------------------------------------


def square(x):
    return x * x


SQUARE = Exercise(
    "square",
    square,
    (
        Case("a (3, 4) array", lambda rng: (rng.standard_normal((3, 4)),)),
        Case("a hidden (2, 2) array", lambda rng: (rng.standard_normal((2, 2)),), hidden=True),
    ),
    mistakes=(Mistake("doubling is not squaring", lambda x: 2 * x),),
)
CATALOGUE = Catalogue("00_test", (SQUARE,))


def good_record(seed=3, function=square):
    return CATALOGUE.collect("square", function, seed=seed)


def test_a_record_is_pure_data():
    record = good_record()
    assert set(record) == {"chapter", "name", "seed", "hidden", "cases"}
    (case,) = record["cases"]
    assert case["status"] == "ok" and isinstance(case["outputs"], np.ndarray)
    json.dumps({k: v for k, v in case.items() if k != "outputs"})  # everything else is JSON


def test_every_case_is_collected_even_after_a_failure():
    two = Exercise("square", square, (Case("a", lambda rng: (rng.standard_normal(3),)), Case("b", lambda rng: (rng.standard_normal(4),))))
    record = Catalogue("t", (two,)).collect("square", lambda x: x.reshape(5, 5), seed=0)
    assert [c["status"] for c in record["cases"]] == ["raised", "raised"]
    assert record["cases"][0]["outputs"] is None and record["cases"][0]["error"].startswith("ValueError")


def test_another_seed_is_rejected():
    report = CATALOGUE.judge(good_record(seed=3), seed=4)
    assert report.status == "failed" and "not computed on the grader's inputs" in report.message
    assert CATALOGUE.judge(good_record(seed=3), seed=3).passed


def test_a_record_of_the_other_cases_or_exercise_is_rejected():
    visible = good_record()
    assert CATALOGUE.judge(visible, seed=3, name="square", hidden=False).passed
    report = CATALOGUE.judge(visible, seed=3, name="square", hidden=True)  # visible cases saved as the hidden ones
    assert report.status == "failed" and "not those of this exercise's hidden cases" in report.message
    assert CATALOGUE.judge(visible, seed=3, name="cube").status == "failed"


def _forged(change):
    record = good_record()
    change(record)
    return record


FORGERIES = {
    "not a dict": lambda r: None,
    "extra key": lambda r: r.update(extra=1),
    "other chapter": lambda r: r.update(chapter="99_other"),
    "unknown exercise": lambda r: r.update(name="cube"),
    "negative seed": lambda r: r.update(seed=-1),
    "boolean seed": lambda r: r.update(seed=True),
    "string seed": lambda r: r.update(seed="3"),
    "hidden not a bool": lambda r: r.update(hidden=1),
    "no cases": lambda r: r.update(cases=[]),
    "too many cases": lambda r: r["cases"].append(dict(r["cases"][0])),
    "another case's description": lambda r: r["cases"][0].update(description="an easier case"),
    "unknown status": lambda r: r["cases"][0].update(status="passed"),
    "outputs of type object": lambda r: r["cases"][0].update(outputs=np.array([object()], dtype=object)),
    "outputs a function": lambda r: r["cases"][0].update(outputs=square),
    "outputs an unknown dict": lambda r: r["cases"][0].update(outputs={"__reduce__": "os.system"}),
    "error not text": lambda r: r["cases"][0].update(error=["x"]),
    "modified not positions": lambda r: r["cases"][0].update(modified=["x"]),
    "arg_names malformed": lambda r: r["cases"][0].update(arg_names=[["x", "0", "square"]]),
    "deeply nested outputs": lambda r: r["cases"][0].update(outputs=_nested(500)),
}


def _nested(depth):
    value = 1.0
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("forgery", FORGERIES, ids=list(FORGERIES))
def test_a_forged_or_malformed_record_fails_without_an_exception(forgery):
    record = None if forgery == "not a dict" else _forged(FORGERIES[forgery])
    report = CATALOGUE.judge(record, seed=3)
    assert report.status == "failed"
    assert "could not be read" in report.message


def test_a_forged_status_cannot_pass_a_wrong_answer():
    record = good_record(function=lambda x: 2 * x)
    record["cases"][0].update(status="ok", error=None, warnings=[], modified=[])
    assert not CATALOGUE.judge(record, seed=3).passed  # the judge compares the outputs itself


def test_values_survive_the_file_format(tmp_path):
    cases = (Case("one", lambda rng: (rng.standard_normal(2),)),)
    results = [
        (np.array([1.5, np.inf, np.nan]), None),
        ([1.0, 2.0], "got list"),
        ((np.ones(2), 3), "got tuple"),
        ({"a": 1}, "got dict"),
        (np.float32(2.5), "got float32"),
        (np.ma.masked_array(np.ones(2)), "the subclass MaskedArray"),
        (None, "got NoneType"),
        (True, "got bool"),
        (float("inf"), "got float"),
        ("text", "got str 'text'"),
    ]
    for value, message in results:
        catalogue = Catalogue("t", (Exercise("f", lambda x: x * 0.0, cases),))
        record = catalogue.collect("f", lambda x, value=value: value, seed=1)
        before = catalogue.judge(record)
        path = save_collected(record, tmp_path / "r.npz")
        after = catalogue.judge(load_collected(path), seed=1)
        assert before == after
        assert after.status == "failed"
        if message:
            assert message in after.message, after.message


# -- the file format --------------------------------------------------------------------------------


def test_load_refuses_a_pickled_array(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, record=np.frombuffer(b'{"a": {"__array__": 0}}', dtype=np.uint8), a0=np.array([object()], dtype=object))
    with pytest.raises(CollectedFormatError):
        load_collected(path)


@pytest.mark.parametrize(
    "content",
    [b"", b"not a zip at all", b"PK\x03\x04garbage"],
    ids=["empty", "text", "broken zip"],
)
def test_load_refuses_garbage(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(CollectedFormatError):
        load_collected(path)


def test_load_refuses_a_missing_file(tmp_path):
    with pytest.raises(CollectedFormatError):
        load_collected(tmp_path / "absent.npz")


def test_load_refuses_an_oversized_file(tmp_path, monkeypatch):
    import autograder.checks as checks

    path = save_collected(good_record(), tmp_path / "r.npz")
    monkeypatch.setattr(checks, "MAX_RECORD_BYTES", 100)
    with pytest.raises(CollectedFormatError, match="too large"):
        load_collected(path)


def test_load_refuses_a_zip_bomb(tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("record.npy", b"\0" * (80 * 2**20))  # 80 MB of zeros compress to a few kB
    assert path.stat().st_size < 2**20
    with pytest.raises(CollectedFormatError):
        load_collected(path)


def test_load_refuses_deep_json(tmp_path):
    path = tmp_path / "deep.npz"
    np.savez(path, record=np.frombuffer(b"[" * 100_000 + b"]" * 100_000, dtype=np.uint8))
    with pytest.raises(CollectedFormatError):
        load_collected(path)


def test_load_refuses_a_dangling_array_reference(tmp_path):
    path = tmp_path / "dangling.npz"
    np.savez(path, record=np.frombuffer(b'{"x": {"__array__": 7}}', dtype=np.uint8))
    with pytest.raises(CollectedFormatError):
        load_collected(path)


# -- grade() in the grader's sandbox, and what it prints -----------------------------------------


def test_grade_in_collect_mode_records_and_never_raises(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AUTOGRADER_COLLECT_DIR", str(tmp_path))
    monkeypatch.setenv("AUTOGRADER_SEED", "42")
    CATALOGUE.grade("square", lambda x: 2 * x)  # wrong, but the verdict is the grader's
    CATALOGUE.grade("square", _stub, hidden=True)
    assert capsys.readouterr().out == "square: recorded for grading\nsquare: recorded for grading\n"
    visible = CATALOGUE.judge(load_collected(tmp_path / "square.npz"), seed=42)
    hidden = CATALOGUE.judge(load_collected(tmp_path / "square.hidden.npz"), seed=42)
    assert visible.status == "failed" and "Likely cause: doubling is not squaring" in visible.message
    assert hidden.status == "not attempted"
    assert CATALOGUE.judge(load_collected(tmp_path / "square.npz"), seed=43).status == "failed"


def test_grade_prints_passed_only_after_the_hidden_cases(capsys):
    CATALOGUE.grade("square", square)
    visible = capsys.readouterr().out
    assert "PASSED" not in visible and "hidden cases are checked when it is graded" in visible
    CATALOGUE.grade("square", square, hidden=True)
    assert capsys.readouterr().out == "[PASSED] square: visible and hidden cases\n"
    with pytest.raises(NotAttempted):
        CATALOGUE.grade("square", _stub, hidden=True)
    assert "PASSED" not in capsys.readouterr().out
