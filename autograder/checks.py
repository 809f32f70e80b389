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
student's kernel can run the same checks on results the student's code computed. A check is
therefore two phases (see ``Catalogue.collect`` and ``Catalogue.judge``):

- ``collect`` runs on the student's side: it draws every case's arguments from the seed, calls the
  student's function on copies, and returns pure data (arrays, numbers, strings, lists, dicts);
- ``judge`` runs on the trusted side: it redraws the arguments from the seed, computes the
  reference, compares and explains. It never calls student code and never raises on a malformed
  record. ``evaluate`` is ``judge(collect(...))``.

``save_collected``/``load_collected`` store a record as an ``.npz`` (arrays, no pickle) holding a
JSON description. When ``AUTOGRADER_COLLECT_DIR`` is set (only the grader sets it, inside its
sandbox), ``grade`` collects with the seed ``AUTOGRADER_SEED`` and saves the record there instead
of judging.
"""

import contextlib
import functools
import inspect
import io
import json
import math
import os
import re
import secrets
import sys
import traceback
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
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
    #: the input family this case belongs to, when the default will not do. Every family of the
    #: hidden cases must have a visible case too (tests/test_exercises.py); by default the families
    #: are derived from the arguments the case draws (each array's dtype, huge values, number of
    #: axes, non-contiguous view; each other argument's type).
    family: str = None


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
    #: ``judged(outputs, *args) -> outputs``, run on the trusted side before the comparison with
    #: ``reference``, on what the student's code returned and on each mistake's result: it computes
    #: from the returned values what is graded (e.g. the held-out error of trained parameters), so
    #: that nothing graded is computed in the student's process. Raises TypeError or ValueError,
    #: with a sentence for the student, when the outputs cannot be judged.
    judged: Callable = None

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


def _copy_array(a):
    """A copy of ``a`` in its kind of memory layout, so that the student's code meets the layout the
    case describes: C order, Fortran order or permuted axes stay so, and a sliced view with gaps
    (``x[:, ::2]``) becomes a copy with gaps along its innermost axis."""
    copy = np.array(a, copy=True, order="K")  # the same axis order in memory, without gaps
    low, high = np.lib.array_utils.byte_bounds(a)
    if a.size == 0 or high - low <= a.nbytes:
        return copy
    strides = np.abs(copy.strides)
    inner = int(np.argmin(strides))
    outer_to_inner = np.argsort(strides, kind="stable")[::-1]
    shape = list(a.shape)
    shape[inner] *= 2
    buffer = np.empty([shape[axis] for axis in outer_to_inner], dtype=a.dtype)
    every_other = [slice(None)] * a.ndim
    every_other[inner] = slice(None, None, 2)
    gappy = buffer.transpose(np.argsort(outer_to_inner))[tuple(every_other)]
    gappy[...] = a
    return gappy


def _copy_args(args):
    return tuple(_copy_array(a) if isinstance(a, np.ndarray) else a for a in args)


def _as_tuple(value, count):
    return value if count else (value,)


def _describe_type(value):
    if isinstance(value, _Opaque):
        return value.description
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}" if np.isscalar(value) else type(value).__name__


def _compare_value(expected, actual, label, exercise, args, names=None):
    """Return None if ``actual`` matches ``expected`` at the exercise's tolerance, else a sentence."""
    with np.errstate(all="ignore"):  # inf - inf in a mistake's result must not warn
        return _compare_finite(expected, actual, label, exercise, args, names)


def _compare_finite(expected, actual, label, exercise, args, names=None):
    rtol, atol = exercise.rtol, exercise.atol
    if any(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in args):
        # computed from float32 inputs (a loss is a Python float even then): compare at float32 precision
        rtol, atol = max(rtol, FLOAT32_RTOL), max(atol, FLOAT32_ATOL)
    if isinstance(expected, np.ndarray):
        if isinstance(actual, _Opaque) and actual.subclass:
            return f"{label} should be a plain numpy array, got the subclass {actual.subclass}."
        if not isinstance(actual, np.ndarray):
            return f"{label} should be a numpy array of shape {expected.shape}, got {_describe_type(actual)}."
        if type(actual) is not np.ndarray:
            return f"{label} should be a plain numpy array, got the subclass {type(actual).__name__}."
        if actual.shape != expected.shape:
            hint = " (transposed?)" if actual.shape == expected.shape[::-1] else ""
            return f"{label} should have shape {expected.shape}, got {actual.shape}{hint}."
        if actual.dtype != expected.dtype:
            like_inputs = " (the dtype of the inputs)" if np.issubdtype(expected.dtype, np.floating) and any(
                isinstance(a, np.ndarray) and a.dtype == expected.dtype for a in args) else ""
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
        return f"{label} holds {np.asarray(act)[index]} at index {index}{_input_at(exercise, args, index, exp, names)}, where {np.asarray(exp)[index]:.6g} was expected."
    excess = np.abs(act - exp) - (rtol * np.abs(exp) + atol)
    if not np.any(excess > 0):
        return None
    worst = _index(np.unravel_index(np.argmax(excess), np.shape(exp))) if np.ndim(exp) else ()
    e, a = np.asarray(exp)[worst], np.asarray(act)[worst]
    wrong = int(np.count_nonzero(excess > 0))
    where = f"{wrong} of {np.size(exp)} elements are off; the worst is at index {worst}{_input_at(exercise, args, worst, exp, names)}: " if np.ndim(exp) else ""
    if abs(e) > atol:
        error = f"relative error {abs(a - e) / abs(e):.1e}, tolerance {rtol:.0e}"
    else:  # a relative error against 0 means nothing
        error = f"absolute error {abs(a - e):.1e}, tolerance {atol:.0e} near 0"
    return f"{label} is wrong: {where}expected {e:.6g}, got {a:.6g} ({error})."


def _arg_name(exercise, position, names=None):
    """How a message names the case's argument at ``position``: as the student's signature names
    the parameter it was passed to (``dout (argument 1)``), else by the exercise's ``arg_names``."""
    if names and position < len(names) and names[position]:
        param, index, owner = names[position]
        of = "" if owner == exercise.name else f" of {owner}"
        return f"{param} (argument {index + 1}{of})"
    declared = exercise.arg_names
    return declared[position] if position < len(declared) else f"(argument {position + 1})"


def _index(index):
    return tuple(int(i) for i in index)


def _input_at(exercise, args, index, expected, names=None):
    """For elementwise exercises, the input value at the worst index (helps to see a sign or a kink)."""
    if args and isinstance(args[0], np.ndarray) and args[0].shape == np.shape(expected) and index != ():
        if names and names[0] and names[0][2] == exercise.name:
            return f" ({names[0][0]} = {args[0][index]:.6g})"
        name = exercise.arg_names[0] if exercise.arg_names else "input"
        return f" ({name} {args[0][index]:.6g})"
    return ""


def _agrees_numerically(numeric, actual, focus=None):
    """Whether ``actual`` matches central differences ``numeric`` where they are defined (NaN marks a
    kink): ``|actual - numeric| <= GRAD_RTOL * scale + GRAD_ATOL``. None if nothing can be compared:
    no element defined, or (with ``focus``, the mask of the elements that are wrong) none of the
    wrong elements defined, so that a kink never gets a verdict about the forward."""
    numeric = np.asarray(numeric, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if numeric.shape != actual.shape:
        return None
    defined = np.isfinite(numeric)
    if focus is not None:
        if np.shape(focus) != numeric.shape or not (defined & focus).any():
            return None
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


def _compare(expected, actual, exercise, args, names=None):
    outputs = exercise.outputs
    if outputs:
        if not isinstance(actual, (tuple, list)) or len(actual) != len(outputs):
            return f"should return a tuple ({', '.join(outputs)}), got {_describe_type(actual)}."
        for output, e, a in zip(outputs, expected, actual):
            problem = _compare_value(e, a, output, exercise, args, names)
            if problem:
                return problem
        return None
    return _compare_value(expected, actual, "the result", exercise, args, names)


def _right_outputs(expected, actual, exercise, args):
    """The names of the outputs that match, when the result is a tuple of the right length."""
    if not exercise.outputs or not isinstance(actual, (tuple, list)) or len(actual) != len(exercise.outputs):
        return []
    return [o for o, e, a in zip(exercise.outputs, expected, actual) if _compare_value(e, a, o, exercise, args) is None]


def _is_loss_exercise(exercise):
    """A (loss, gradients...) exercise: it is its own forward, or its first output is named a loss."""
    return len(exercise.outputs) >= 2 and (exercise.forward == exercise.name or "loss" in exercise.outputs[0].lower())


def _wrong_elements(expected, actual, exercise, args):
    """Per output, a boolean mask of the elements off the tolerance (None where it cannot be told)."""
    rtol, atol = exercise.rtol, exercise.atol
    if any(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in args):
        rtol, atol = max(rtol, FLOAT32_RTOL), max(atol, FLOAT32_ATOL)
    masks = []
    pairs = zip(expected, actual) if exercise.outputs else [(expected, actual)]
    for e, a in pairs:
        try:
            with np.errstate(all="ignore"):
                e64, a64 = np.asarray(e, dtype=np.float64), np.asarray(a, dtype=np.float64)
                if e64.shape != a64.shape:
                    masks.append(None)
                    continue
                off = ~(np.abs(a64 - e64) <= rtol * np.abs(e64) + atol)
                masks.append(off & ~(~np.isfinite(e64) & ~np.isfinite(a64)))
        except (TypeError, ValueError):
            masks.append(None)
    return masks


# -- the record of a collected check: pure data, and its file format ----------------------------

#: The statuses of a collected case.
CASE_STATUSES = ("ok", "raised", "not attempted", "not callable", "missing forward")

#: Bounds on a record (and on its file): anything larger is refused as malformed.
MAX_RECORD_BYTES = 64 * 2**20  # the .npz file, and the sum of its members' uncompressed sizes
MAX_JSON_BYTES = 2 * 2**20
MAX_ARRAYS = 4096
MAX_TEXT = 2000  # characters of any string in a record (an error message is cut to this)
MAX_LEAVES = 100_000  # elements of a nested list result
_NUMERIC_KINDS = "biufc"

RECORD_KEYS = ("chapter", "name", "seed", "hidden", "cases")
CASE_KEYS = ("description", "status", "outputs", "error", "warnings", "modified", "called_reference",
             "numerical", "forward_fault", "stub", "arg_names")


class CollectedFormatError(ValueError):
    """A collected record (or its file) is malformed, too large, or not what it claims to be."""


@dataclass(frozen=True)
class _Opaque:
    """A student's value that is neither an array nor a number nor a list, kept as its description."""

    description: str
    subclass: str = None  # the class name of an ndarray subclass


def _text(value, limit=MAX_TEXT):
    value = str(value)
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _count_leaves(value, budget):
    if isinstance(value, (list, tuple)):
        for v in value:
            budget = _count_leaves(v, budget)
            if budget < 0:
                return budget
        return budget
    return budget - 1


def _encode(value, depth=0):
    """A student's result as pure data: arrays (plain, numeric), Python numbers, lists, and dicts
    ``{"tuple": [...]}``, ``{"scalar": 0-d array}`` (a numpy scalar) and
    ``{"opaque": description, "subclass": name}`` for anything else."""
    if type(value) is np.ndarray and value.dtype.kind in _NUMERIC_KINDS:
        return np.array(value, copy=True)
    if isinstance(value, (float, int)) and not isinstance(value, bool) and type(value) in (float, int):
        return value
    if isinstance(value, (np.number, np.bool_)) and not isinstance(value, bool):
        return {"scalar": np.array(value)}
    if isinstance(value, (list, tuple)) and depth < 16 and _count_leaves(value, MAX_LEAVES) >= 0:
        items = [_encode(v, depth + 1) for v in value]
        return {"tuple": items} if isinstance(value, tuple) else items
    try:
        description = _describe_type(value)
    except Exception:  # a student's object whose repr raises
        description = type(value).__name__
    subclass = type(value).__name__ if isinstance(value, np.ndarray) and type(value) is not np.ndarray else None
    return {"opaque": _text(description, 200), "subclass": subclass}


def _decode(data, depth=0):
    """The value ``_encode`` described; raises CollectedFormatError on anything else."""
    if depth > 20:
        raise CollectedFormatError("nested too deeply")
    if isinstance(data, np.ndarray):
        if data.dtype.kind not in _NUMERIC_KINDS or type(data) is not np.ndarray:
            raise CollectedFormatError(f"an array of dtype {data.dtype}")
        return data
    if isinstance(data, bool):
        raise CollectedFormatError("a bare boolean")
    if isinstance(data, (int, float)):
        return data
    if isinstance(data, list):
        return [_decode(v, depth + 1) for v in data]
    if isinstance(data, dict):
        if set(data) == {"tuple"} and isinstance(data["tuple"], list):
            return tuple(_decode(v, depth + 1) for v in data["tuple"])
        if set(data) == {"scalar"} and isinstance(data["scalar"], np.ndarray) and data["scalar"].ndim == 0 \
                and data["scalar"].dtype.kind in _NUMERIC_KINDS:
            return data["scalar"][()]
        if set(data) == {"opaque", "subclass"} and isinstance(data["opaque"], str) and \
                (data["subclass"] is None or isinstance(data["subclass"], str)):
            return _Opaque(_text(data["opaque"], 200), data["subclass"] and _text(data["subclass"], 100))
    raise CollectedFormatError(f"an unexpected value of type {type(data).__name__}")


def _check_text(value, what, optional=True):
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise CollectedFormatError(f"{what} should be text")
    return _text(value)


def _validated_case(entry, case, exercise):
    """A case's entry, checked field by field (CollectedFormatError if anything is off)."""
    if not isinstance(entry, dict) or set(entry) != set(CASE_KEYS):
        raise CollectedFormatError("a case is not a record of the expected fields")
    if entry["description"] != case.description:
        raise CollectedFormatError("the cases are not this exercise's cases")
    if entry["status"] not in CASE_STATUSES:
        raise CollectedFormatError("a case has an unknown status")
    clean = dict(entry)
    for key in ("error", "called_reference", "forward_fault", "stub"):
        clean[key] = _check_text(entry[key], key)
    if not isinstance(entry["warnings"], list) or len(entry["warnings"]) > 100:
        raise CollectedFormatError("warnings should be a list")
    clean["warnings"] = [_check_text(w, "a warning", optional=False) for w in entry["warnings"]]
    if not isinstance(entry["modified"], list) or not all(
            isinstance(p, int) and not isinstance(p, bool) and 0 <= p < 1000 for p in entry["modified"]):
        raise CollectedFormatError("modified should be a list of argument positions")
    names = entry["arg_names"]
    if names is not None:
        if not isinstance(names, list) or len(names) > 1000:
            raise CollectedFormatError("arg_names should be a list")
        for item in names:
            if item is not None and not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)
                                         and isinstance(item[1], int) and not isinstance(item[1], bool)
                                         and 0 <= item[1] < 1000 and isinstance(item[2], str)):
                raise CollectedFormatError("arg_names should hold [name, position, function] triples")
        clean["arg_names"] = [item and [_text(item[0], 100), item[1], _text(item[2], 100)] for item in names]
    clean["outputs"] = None if entry["outputs"] is None else _decode(entry["outputs"])
    clean["numerical"] = None if entry["numerical"] is None else _decode(entry["numerical"])
    if entry["status"] == "ok" and entry["outputs"] is None and clean["outputs"] is None:
        clean["outputs"] = _Opaque("NoneType")  # the function returned None
    return clean


def save_collected(collected, path):
    """Write a collected record to ``path`` (an ``.npz``: its arrays, and its structure as JSON)."""
    arrays = []

    def strip(value):
        if isinstance(value, np.ndarray):
            arrays.append(value)
            return {"__array__": len(arrays) - 1}
        if isinstance(value, dict):
            return {str(k): strip(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [strip(v) for v in value]
        if isinstance(value, float) and not math.isfinite(value):
            return {"__float__": repr(value)}
        return value

    structure = json.dumps(strip(collected), allow_nan=False).encode()
    members = {f"a{i}": a for i, a in enumerate(arrays)}
    path = Path(path)
    with open(path, "wb") as file:  # np.savez would append .npz to a name without it
        np.savez(file, record=np.frombuffer(structure, dtype=np.uint8), **members)
    return path


def load_collected(path):
    """Read a record written by ``save_collected``. Nothing in the file is executed (no pickle);
    a malformed, oversized or hostile file raises ``CollectedFormatError`` and nothing else."""
    try:
        path = Path(path)
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise CollectedFormatError("the file is too large")
        with zipfile.ZipFile(path) as archive:  # bound the uncompressed sizes before numpy reads anything
            infos = archive.infolist()
            if len(infos) > MAX_ARRAYS + 1 or sum(i.file_size for i in infos) > MAX_RECORD_BYTES:
                raise CollectedFormatError("the file holds too much")
        with np.load(path, allow_pickle=False) as npz:
            if "record" not in npz.files:
                raise CollectedFormatError("the file holds no record")
            raw = npz["record"]
            if raw.dtype != np.uint8 or raw.ndim != 1 or raw.size > MAX_JSON_BYTES:
                raise CollectedFormatError("the record's description is malformed")
            structure = json.loads(raw.tobytes().decode("utf-8"))
            arrays = {}

            def restore(value, depth=0):
                if depth > 40:
                    raise CollectedFormatError("nested too deeply")
                if isinstance(value, dict):
                    if set(value) == {"__array__"}:
                        key = value["__array__"]
                        if not isinstance(key, int) or isinstance(key, bool) or f"a{key}" not in npz.files:
                            raise CollectedFormatError("a reference to a missing array")
                        if key not in arrays:
                            array = npz[f"a{key}"]
                            if array.dtype.kind not in _NUMERIC_KINDS:
                                raise CollectedFormatError(f"an array of dtype {array.dtype}")
                            arrays[key] = array
                        return arrays[key]
                    if set(value) == {"__float__"} and value["__float__"] in ("inf", "-inf", "nan"):
                        return float(value["__float__"])
                    return {k: restore(v, depth + 1) for k, v in value.items()}
                if isinstance(value, list):
                    return [restore(v, depth + 1) for v in value]
                return value

            return restore(structure)
    except CollectedFormatError:
        raise
    except (Exception, RecursionError) as error:  # noqa: BLE001 - any defect of the file is one kind of error
        raise CollectedFormatError(f"unreadable record ({type(error).__name__})") from None


# -- running the student's code (the collect side) ---------------------------------------------


def _student_names(function):
    """The parameter names of ``function``'s signature, or None."""
    try:
        return [p.name for p in inspect.signature(function).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    except (TypeError, ValueError):
        return None


def _name_arguments(copies, calls):
    """For each of the case's argument copies, ``[parameter, position, function name]`` of the first
    call that received that very object (None if none did)."""
    names = []
    for copy in copies:
        found = None
        if isinstance(copy, np.ndarray):
            for owner, params, arguments in calls:
                for position, argument in enumerate(arguments):
                    if argument is copy and params and position < len(params):
                        found = [params[position], position, owner]
                        break
                if found:
                    break
        names.append(found)
    return names


_BROADCAST = re.compile(r"operands could not be broadcast together with (?:remapped )?shapes? ((?:\([\d, ]*\)\s*)+)")


def _keepdims_hint(error):
    """A sentence for numpy's broadcast error between a shape and the same shape with one axis dropped."""
    match = _BROADCAST.search(error or "")
    if not match:
        return ""
    shapes = [tuple(int(n) for n in s.split(",") if n.strip()) for s in re.findall(r"\(([\d, ]*)\)", match.group(1))]
    for long in shapes:
        for short in shapes:
            if len(long) == len(short) + 1 and any(long[:k] + long[k + 1:] == short for k in range(len(long))):
                kept = next(long[:k] + (1,) + long[k + 1:] for k in range(len(long)) if long[:k] + long[k + 1:] == short)
                return (f" Hint: shapes {short} and {long} do not broadcast: a sum, max or mean over an axis dropped "
                        f"that axis. Keep it with keepdims=True (e.g. a.sum(axis=..., keepdims=True)), which gives "
                        f"{kept}, and that broadcasts against {long}.")
    return ""


class _Run:
    """What one call of the student's code gave (collect side)."""

    def __init__(self):
        self.status, self.outputs, self.error, self.stub = "ok", None, None, None
        self.warnings, self.modified, self.called, self.names = [], [], None, None
        self.faults = []  # what the student's forward did wrong during the call, as sentences


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
        """Run the graded check with a fresh seed; raise ``CheckFailed`` or ``NotAttempted`` unless it passes.

        A graded cell calls it twice, for the visible then (nbgrader's hidden tests) the hidden
        cases. A passing visible call prints a line without "PASSED", so that the feedback never
        shows a passed line above a hidden case that fails; a passing hidden call prints
        ``[PASSED] name: visible and hidden cases``.
        In the grader's sandbox (``AUTOGRADER_COLLECT_DIR`` set) it only records the results.
        """
        directory = os.environ.get("AUTOGRADER_COLLECT_DIR")
        if directory:
            seed = int(os.environ["AUTOGRADER_SEED"])
            collected = self.collect(name, function, forward, seed=seed, hidden=hidden)
            save_collected(collected, Path(directory) / f"{name}{'.hidden' if hidden else ''}.npz")
            print(f"{name}: recorded for grading")
            return
        report = self.evaluate(name, function, forward, seed=secrets.randbelow(10**9), hidden=hidden)
        if report.status == "not attempted":
            raise NotAttempted(report.message)
        if not report.passed:
            raise CheckFailed(report.message)
        if hidden:
            print(f"[PASSED] {name}: visible and hidden cases")
        else:  # no PASSED yet: in the feedback this line sits right above the hidden cases' verdict
            print(f"{name}: right on fresh inputs; the hidden cases are checked when it is graded.")

    # -- the check: evaluate = judge(collect) ---------------------------------------------------

    def evaluate(self, name, function, forward=None, *, seed=VISIBLE_SEED, hidden=False):
        """Check ``function`` on every case of exercise ``name`` (the hidden ones if ``hidden``); return a Report.

        The same Report as ``judge(collect(...))``, computed case by case: it stops collecting at
        the first case that fails, as a student waiting for the check would want.
        """
        exercise, seed = self[name], int(seed)
        cases = [c for c in exercise.cases if c.hidden == hidden]
        entries = (_validated_case(e, c, exercise) for e, c in zip(self._collect_entries(exercise, function, forward, seed, cases), cases))
        return self._verdict(exercise, seed, bool(hidden), entries)

    def collect(self, name, function, forward=None, *, seed, hidden=False):
        """The student's side of a check: run ``function`` on every case drawn from ``seed``; return pure data.

        Every case is run, whatever the previous ones gave. See the module's docstring and
        ``judge`` for what is done with the record.
        """
        exercise, seed = self[name], int(seed)
        cases = [c for c in exercise.cases if c.hidden == hidden]
        entries = list(self._collect_entries(exercise, function, forward, seed, cases))
        return {"chapter": self.chapter, "name": name, "seed": seed, "hidden": bool(hidden), "cases": entries}

    def _collect_entries(self, exercise, function, forward, seed, cases):
        for index, case in enumerate(cases):
            entry = dict.fromkeys(CASE_KEYS)
            entry.update(description=case.description, status="ok", warnings=[], modified=[])
            if not callable(function):
                entry.update(status="not callable", error=_text(_describe_type(function), 200))
            elif exercise.forward and forward is None:
                entry["status"] = "missing forward"
            else:
                args = case.draw(np.random.default_rng((seed, index)))
                self._collect_case(exercise, args, function, forward, entry)
            yield entry

    def _separate_forward(self, exercise):
        """Whether the exercise's run calls a forward pass of another exercise (a layer's backward)."""
        return bool(exercise.forward) and exercise.forward != exercise.name and exercise.forward in self.exercises

    def _collect_case(self, exercise, args, function, forward, entry):
        spy = self._spy(exercise, forward) if self._separate_forward(exercise) else None
        run = self._run(exercise, function, spy or forward, args, spy)
        if run.faults:
            # Blame: the student's forward raised, changed its input or is wrong. The backward is checked
            # on nnlib's forward instead, and the record names the forward's fault.
            entry["forward_fault"] = _text(f"your {exercise.forward} {run.faults[0]}")
            run = self._run_on_reference_forward(exercise, function, forward, args) or run
        entry.update(status=run.status, outputs=None if run.outputs is None else _encode(run.outputs),
                     error=run.error and _text(run.error), warnings=[_text(w) for w in run.warnings[:20]],
                     modified=run.modified, called_reference=run.called, stub=run.stub, arg_names=run.names)
        if run.status == "ok" and not run.faults and not entry["forward_fault"]:
            numeric = self._numerical(exercise, args, run.outputs, forward)
            entry["numerical"] = None if numeric is None else _encode(numeric)

    def _spy(self, exercise, forward):
        """``forward`` called on copies of its arguments, recording what it did wrong."""
        forward_exercise = self[exercise.forward]
        spy_calls, params = [], _student_names(forward)

        def spy(*fargs, **fkwargs):
            copies = _copy_args(fargs)
            spy_calls.append((exercise.forward, params, fargs))
            try:
                result = forward(*copies, **fkwargs)
            except NotImplementedError:
                spy.faults.append("still raises NotImplementedError")
                raise
            except Exception as error:
                spy.faults.append(f"raised {type(error).__name__}: {error}")
                raise
            changed = [p for p, (b, a) in enumerate(zip(fargs, copies))
                       if isinstance(b, np.ndarray) and not np.array_equal(b, a, equal_nan=True)]
            if changed:
                p = changed[0]
                named = f"{params[p]} (argument {p + 1})" if params and p < len(params) else f"(argument {p + 1})"
                spy.faults.append(f"modified its input {named} in place")
            elif not fkwargs and all(isinstance(a, (np.ndarray, float, int, str)) for a in fargs):
                # (a forward given a generator or options is not compared: its reference would draw differently)
                problem = _forward_problem(forward_exercise, fargs, result)
                if problem:
                    spy.faults.append(f"is wrong: {problem}")
            return result

        spy.faults, spy.calls = [], spy_calls
        return spy

    def _run_on_reference_forward(self, exercise, function, forward, args):
        """The backward run on nnlib's forward: its cache, else (for a student's own cache layout)
        nnlib's output with the student's cache, the inputs, or the single input as the cache."""
        reference = trusted(exercise.forward_reference or self[exercise.forward].answer)

        def student_cache(*fargs, **fkwargs):
            out = reference(*fargs, **fkwargs)[0]
            try:
                return out, forward(*_copy_args(fargs), **fkwargs)[1]
            except NotImplementedError:  # the forward's stub: this candidate does not apply
                raise LookupError("no cache from the forward") from None

        candidates = [
            reference,
            student_cache,
            lambda *fargs, **fkwargs: (reference(*fargs, **fkwargs)[0], fargs),
            lambda *fargs, **fkwargs: (reference(*fargs, **fkwargs)[0], fargs[0] if len(fargs) == 1 else fargs),
        ]
        first = None
        for candidate in candidates:
            run = self._run(exercise, function, candidate, args, None)
            if run.status != "raised":
                return run
            first = first or run
        return first

    def _run(self, exercise, function, forward, args, spy):
        """Call the student's function (through ``exercise.run``) on copies of ``args``."""
        result = _Run()
        copies = _copy_args(args)
        calls = [(exercise.name, _student_names(function), None)]

        def student(*a, **k):
            calls.append((exercise.name, calls[0][1], a))
            return function(*a, **k)

        detector = _ReferenceCallDetector(self.forbidden)
        try:
            # stderr from the student's code is swallowed: nbgrader zeroes a test cell that writes to it.
            with warnings.catch_warnings(record=True) as caught, np.errstate(**NUMERICAL_WARNINGS), \
                    contextlib.redirect_stderr(io.StringIO()), detector:
                warnings.simplefilter("always")
                try:
                    result.outputs = exercise.run(student, forward, *copies)
                finally:
                    result.warnings = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
        except NotImplementedError as error:
            result.status = "not attempted"
            result.stub = traceback.extract_tb(error.__traceback__)[-1].name  # the stub: this one or its forward
            result.error = f"NotImplementedError: {error}"
        except Exception as error:  # the student's code raised: record it, do not crash the check
            result.status, result.error = "raised", f"{type(error).__name__}: {error}"
        if spy is not None:
            result.faults = list(spy.faults)
            calls += spy.calls
        if result.status == "not attempted" and "still raises NotImplementedError" in result.faults:
            result.status = "raised"  # the forward's stub: the backward is then run on nnlib's forward
        result.called = _qualified(detector.called) if detector.called is not None else None
        result.modified = [p for p, (before, after) in enumerate(zip(args, copies))
                           if isinstance(before, np.ndarray) and not np.array_equal(before, after, equal_nan=True)]
        result.names = _name_arguments(copies, [c for c in calls[1:] if c[2] is not None])
        return result

    def _numerical(self, exercise, args, outputs, forward):
        """Central differences of the student's own forward, where they can judge the result."""
        if exercise.numerical is None or forward is None:
            return None
        got = outputs if exercise.outputs else (outputs,)
        if not isinstance(got, (tuple, list)) or not _all_float64(args) or not _all_float64(got):
            return None  # central differences cannot judge float32 at the gradient tolerance
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"), contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                numeric = exercise.numerical(forward, *_copy_args(args))
        except Exception:  # a broken forward, or central differences not reliable on this case
            return None
        return list(numeric) if exercise.outputs else numeric

    # -- the trusted side ----------------------------------------------------------------------

    def judge(self, collected, *, seed=None, name=None, hidden=None):
        """The verdict on a record from ``collect``: the same Report ``evaluate`` gives.

        It redraws every case's arguments from the record's seed, computes the reference and
        compares; it never calls student code. A malformed record gives a failed Report saying the
        results could not be read (never an exception); with ``seed``, a record computed on
        another seed is rejected, and so is, with ``name`` or ``hidden``, a record of another
        exercise or of the other set of cases (e.g. visible cases saved as the hidden ones).
        """
        expected_name = name
        name = collected.get("name") if isinstance(collected, dict) else None
        name = name if isinstance(name, str) and name in self.exercises else (expected_name or "?")
        try:
            record = self._validated(collected)
        except (CollectedFormatError, RecursionError) as error:
            return Report(name, "failed", f"the results could not be read ({error}).", seed if isinstance(seed, int) else 0)
        if seed is not None and record["seed"] != seed:
            return Report(name, "failed", "the results were not computed on the grader's inputs (another seed).", seed)
        if (expected_name is not None and record["name"] != expected_name) or (hidden is not None and record["hidden"] != hidden):
            return Report(expected_name or name, "failed", "the results are not those of this exercise's "
                          f"{'hidden' if hidden else 'visible'} cases.", record["seed"])
        return self._verdict(self[name], record["seed"], record["hidden"], record["cases"])

    def _verdict(self, exercise, seed, hidden, entries):
        """The Report on ``entries`` (validated case records, possibly computed lazily), in case order."""
        name = exercise.name
        cases = [c for c in exercise.cases if c.hidden == hidden]
        reproduce = f"Reproduce it with check({name!r}, {name}{', ' + exercise.forward if exercise.forward else ''}, seed={seed}{', hidden=True' if hidden else ''})."
        notes = []
        try:
            for index, (case, entry) in enumerate(zip(cases, entries)):
                notes += self._judge_case(exercise, case, index, entry, seed, reproduce)
        except _Stop as stop:
            return Report(name, stop.status, stop.message, seed)
        summary = f"correct on {len(cases)} {'hidden ' if hidden else ''}cases ({'; '.join(c.description for c in cases)})."
        return Report(name, "passed", " ".join([summary] + sorted(set(notes))), seed)

    def _validated(self, collected):
        if not isinstance(collected, dict) or set(collected) != set(RECORD_KEYS):
            raise CollectedFormatError("not a record of a check")
        if collected["chapter"] != self.chapter or collected["name"] not in self.exercises:
            raise CollectedFormatError("a record of another exercise")
        seed, hidden = collected["seed"], collected["hidden"]
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
            raise CollectedFormatError("the seed should be a non-negative integer")
        if not isinstance(hidden, bool):
            raise CollectedFormatError("hidden should be true or false")
        cases = [c for c in self[collected["name"]].cases if c.hidden == hidden]
        if not isinstance(collected["cases"], list) or len(collected["cases"]) != len(cases):
            raise CollectedFormatError("the record does not hold one result per case")
        entries = [_validated_case(e, c, self[collected["name"]]) for e, c in zip(collected["cases"], cases)]
        return {**collected, "cases": entries}

    def _judge_case(self, exercise, case, index, entry, seed, reproduce):
        name, status, on_case = exercise.name, entry["status"], f"On {case.description}: "
        if status == "not callable":
            raise _Stop("failed", f"expected a function, got {entry['error']}.")
        if status == "missing forward":
            raise _Stop("failed", f"pass your forward function too: check({name!r}, {name}, {exercise.forward}).")
        if status == "not attempted":
            raise _Stop("not attempted", f"not attempted yet ({entry['stub'] or name} still raises NotImplementedError).")
        fault = entry["forward_fault"]
        blame = f" Your {name} was checked on nnlib's {exercise.forward} instead, because {fault}: fix {exercise.forward} too." if fault else ""
        if status == "raised":
            if fault:
                raise _Stop("failed", f"{on_case}{name} could not be checked, because {fault}. Fix {exercise.forward} first "
                                      f"(on nnlib's {exercise.forward}, {name} raised {entry['error']}). {reproduce}")
            raise _Stop("failed", f"{on_case}{name} raised {entry['error']}{_keepdims_hint(entry['error'])} {reproduce}")
        if entry["called_reference"]:
            raise _Stop("failed", f"{name} calls nnlib's answer {entry['called_reference']}: this chapter asks you to write it yourself.")
        args = case.draw(np.random.default_rng((seed, index)))
        actual, names = entry["outputs"], entry["arg_names"]
        if entry["warnings"]:
            cause = self._likely_cause(exercise, args, actual, warned=True)
            raise _Stop(
                "failed",
                f"{on_case}numerical warning \"{entry['warnings'][0]}\": an overflow or a division by zero is a "
                f"stability bug; rewrite the formula so that no intermediate value overflows."
                f"{f' Likely cause: {cause}.' if cause else ''}{blame} {reproduce}",
            )
        for position in entry["modified"]:
            if position < len(args) and isinstance(args[position], np.ndarray):
                raise _Stop("failed", f"{name} modified its input {_arg_name(exercise, position, names)} in place: "
                                      f"return a new array instead. {reproduce}")
        expected = exercise.reference(*_copy_args(args))
        if exercise.judged is not None:
            try:
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    actual = exercise.judged(actual, *_copy_args(args))
            except (TypeError, ValueError) as error:
                raise _Stop("failed", f"{on_case}{error} {reproduce}")
        problem = _compare(expected, actual, exercise, args, names)
        if problem is None:
            if fault:
                return [f"Your {name} is right on nnlib's {exercise.forward}, but {fault}: fix {exercise.forward}."]
            consistency = self._consistency(exercise, args, actual, entry["numerical"], None) if _same_layout(expected, actual) else None
            if consistency == "inconsistent" and exercise.forward == exercise.name:
                return [f"Your {name} is right, but its gradient does not match a numerical derivative of its loss."]
            if consistency == "inconsistent":
                return [f"Your {name} is right, but your {exercise.forward} disagrees with it: check {exercise.forward}."]
            return []
        # A wrong shape or dtype says nothing about the derivative's values: no hint about the forward then.
        consistency = None
        if _same_layout(expected, actual):
            consistency = self._consistency(exercise, args, actual, entry["numerical"], _wrong_elements(expected, actual, exercise, args))
        cause = self._likely_cause(exercise, args, actual)
        hint = f" Likely cause: {cause}." if cause else ""
        right = _right_outputs(expected, actual, exercise, args)
        if _is_loss_exercise(exercise) and right == list(exercise.outputs[1:]):
            hint += f" Your {'gradient is' if len(right) == 1 else 'gradients are'} right: only the {exercise.outputs[0]} is wrong."
        if consistency == "consistent" and exercise.forward == exercise.name:  # a (loss, gradient) exercise
            if not (_is_loss_exercise(exercise) and right == list(exercise.outputs[1:])):
                hint += " Your gradient does match a numerical derivative of your loss, so the loss itself is wrong."
        elif consistency == "consistent":
            hint += f" It does match a numerical derivative of your own {exercise.forward}, so fix {exercise.forward} first."
        elif consistency == "inconsistent" and exercise.forward == exercise.name:
            hint += " Your gradient does not match a numerical derivative of your own loss either."
        elif consistency == "inconsistent":
            hint += f" It does not match a numerical derivative of your {exercise.forward} either."
        raise _Stop("failed", f"{on_case}{problem}{hint}{blame} {reproduce}")

    def _consistency(self, exercise, args, actual, numeric, wrong):
        """'consistent', 'inconsistent', or None when there is nothing to compare (``wrong``: the masks
        of the wrong elements, per output, when the result failed)."""
        if exercise.numerical is None or numeric is None:
            return None
        got = actual if exercise.outputs else (actual,)
        want = numeric if exercise.outputs else (numeric,)
        if not _all_float64(args) or not isinstance(got, (tuple, list)) or not _all_float64(got):
            return None
        if not isinstance(want, (tuple, list)) or len(want) != len(got):
            return None
        comparable = [i for i, n in enumerate(want) if n is not None and not isinstance(n, _Opaque)]
        if wrong is not None:
            # Only the wrong outputs say whether the forward explains them, and only where central
            # differences are defined at a wrong element (a kink says nothing). When no wrong output
            # has central differences (a loss), the gradients' agreement with the loss is the verdict.
            focused = [i for i in comparable if wrong[i] is not None and np.any(wrong[i])]
            if focused:
                comparable = focused
            else:
                wrong = None
        verdicts = []
        try:
            for i in comparable:
                verdicts.append(_agrees_numerically(want[i], got[i], wrong[i] if wrong is not None else None))
        except (TypeError, ValueError):
            return None
        verdicts = [v for v in verdicts if v is not None]
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
                    if exercise.judged is not None:
                        wrong = exercise.judged(wrong, *_copy_args(args))
            except Exception:
                continue
            if _compare(wrong, actual, exercise, args) is None:
                mistake_warned = any(issubclass(w.category, RuntimeWarning) for w in caught)
                matches.append((mistake_warned != warned, mistake.cause))
        return min(matches, key=lambda match: match[0])[1] if matches else None

    def bind(self):
        """The ``check`` and ``grade`` functions a notebook imports."""
        return self.check, self.grade


@contextlib.contextmanager
def _paused_detector():
    detector = sys.getprofile()
    sys.setprofile(None)
    try:
        yield
    finally:
        sys.setprofile(detector)


def _forward_problem(forward_exercise, fargs, result):
    """What is wrong with a forward's ``result`` on ``fargs`` (a sentence), or None. Runs nnlib's
    reference with the detector of forbidden calls paused and its warnings ignored."""
    with _paused_detector(), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            expected = forward_exercise.reference(*_copy_args(fargs))
        except Exception:  # not the forward exercise's arguments: no verdict
            return None
        try:
            actual = forward_exercise.run(lambda *a: result, None, *fargs)
        except Exception as error:  # e.g. not a pair (out, cache)
            return f"{type(error).__name__}: {error}"
        return _compare(expected, actual, forward_exercise, fargs)
