"""Markers by chapter, so that a contributor can run one chapter's tests: ``pytest -m ch01``."""

import pytest

CHAPTER_MARKERS = {
    "01_activations": "ch01",
    "02_losses": "ch02",
    "03_backprop": "ch03",
    "04_regularization": "ch04",
    "05_convolution": "ch05",
    "06_rnn": "ch06",
}
CHAPTER_TEST_FILES = {
    "test_activations_chapter.py": "01_activations",
    "test_losses_chapter.py": "02_losses",
    "test_backprop_chapter.py": "03_backprop",
    "test_regularization_chapter.py": "04_regularization",
    "test_convolution_chapter.py": "05_convolution",
    "test_rnn_chapter.py": "06_rnn",
}


def _chapter_of(item):
    for part in item.path.parts:
        if part in CHAPTER_MARKERS:
            return part
    if item.path.name in CHAPTER_TEST_FILES:
        return CHAPTER_TEST_FILES[item.path.name]
    params = getattr(getattr(item, "callspec", None), "params", {})
    for value in params.values():
        if getattr(value, "chapter", None) in CHAPTER_MARKERS:
            return value.chapter
    return None


def pytest_collection_modifyitems(items):
    for item in items:
        chapter = _chapter_of(item)
        if chapter:
            item.add_marker(getattr(pytest.mark, CHAPTER_MARKERS[chapter]))
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebooks)
