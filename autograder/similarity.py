"""The similarity report: answers whose normalised code is alike, for the instructor to judge.

Each submission's top-level functions are kept in the gradebook as normalised source
(``student_answers``); the report compares the whole class, function by function, with
``difflib.SequenceMatcher`` on normalised tokens (names renamed by first use, docstrings and strings
dropped: ``verdict.tokens``), and against nnlib's answer. Nothing is ever deducted.

Identical answers are grouped by their tokens. Up to ``EXHAUSTIVE_MAX`` distinct answers to a
function, every pair of them is compared. Beyond that, comparing every pair is quadratic (hours for
ten thousand students), so only pairs that share *uncommon* code are compared, as MOSS does: answers
meet in MinHash buckets (locality-sensitive hashing) over 3-token shingles, leaving out the shingles
that most answers share (the given signature, the usual solution's idioms). Two answers alike only
because both are the usual solution are then not listed; two that share an unusual stretch are.
Identical answers (the same tokens) are always grouped, however common, in both regimes.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
from itertools import combinations
from pathlib import Path

import numpy as np

from autograder import verdict

THRESHOLD = 0.9
EXHAUSTIVE_MAX = 50  # distinct answers to one function compared pair by pair (1,225 pairs: seconds at most)
MIN_TOKENS = 60  # shorter answers (a one-line formula) look alike whoever wrote them
SHINGLE = 3  # tokens per shingle
BANDS, ROWS = 32, 4  # 128 MinHash values; a pair meets when one band of 4 agrees (at Jaccard 0.6: 99%)
COMMON = 0.5  # shingles in more than this share of a function's answers are left out of the hashing
_rng = np.random.default_rng(20261130)
_MASKS = _rng.integers(0, 2**63, BANDS * ROWS, dtype=np.uint64)
_MULTIPLIERS = _rng.integers(0, 2**63, BANDS * ROWS, dtype=np.uint64) | np.uint64(1)  # odd: a bijection


def functions_of(source: str) -> dict:
    """{name: normalised source} of a cell's top-level functions that are long enough to compare."""
    found = {}
    if len(source) > verdict.MAX_SOURCE:
        return found
    try:
        tree = ast.parse(source)
    except Exception:  # noqa: BLE001
        return found
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            code = ast.unparse(node)
            if len(verdict.tokens(code)) >= MIN_TOKENS:
                found[node.name] = code
    return found


def student_answers(folder: Path, notebooks: list[str]) -> dict:
    """{function name: normalised source} of a submission's notebooks."""
    funcs = {}
    for name in notebooks:
        path = Path(folder) / f"{name}.ipynb"
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size > 20 * 2**20:
                continue
            nb = json.loads(path.read_text(encoding="utf-8"))
            for cell in nb.get("cells", []):
                if cell.get("cell_type") != "code":
                    continue
                src = cell.get("source", "")
                funcs.update(functions_of("".join(src) if isinstance(src, list) else str(src)))
        except Exception:  # noqa: BLE001 - unreadable: nothing to compare
            continue
    return funcs


def alike(a: list[str], b: list[str]) -> float:
    """How alike two token lists are (``verdict.similarity``); 0 when surely below the threshold."""
    return verdict.similarity(a, b, at_least=THRESHOLD)


def _shingles(toks: tuple) -> set:
    """64-bit hashes of the answer's shingles: blake2b, not ``hash()``, whose value changes with every
    process (PYTHONHASHSEED), which would make the candidate pairs, so the report, differ between two
    runs of ``export`` on the same gradebook."""
    return {int.from_bytes(hashlib.blake2b("\x1f".join(toks[i:i + SHINGLE]).encode(), digest_size=8).digest(),
                           "little")
            for i in range(max(1, len(toks) - SHINGLE + 1))}


def _candidates(variants: list[tuple]) -> set[tuple[int, int]]:
    """Index pairs of ``variants`` (distinct token tuples) that share a MinHash band."""
    shingles = [_shingles(v) for v in variants]
    counts: dict[int, int] = {}
    for s in shingles:
        for h in s:
            counts[h] = counts.get(h, 0) + 1
    common = {h for h, c in counts.items() if c > COMMON * len(variants)} if len(variants) > 4 else set()
    buckets: dict[tuple, list[int]] = {}
    for i, s in enumerate(shingles):
        rare = s - common
        if not rare:
            continue
        x = np.fromiter(sorted(rare), dtype=np.uint64, count=len(rare))
        sig = ((x[None, :] ^ _MASKS[:, None]) * _MULTIPLIERS[:, None]).min(axis=1)
        for band in range(BANDS):
            buckets.setdefault((band, *sig[band * ROWS:(band + 1) * ROWS].tolist()), []).append(i)
    pairs = set()
    for members in buckets.values():
        pairs.update(combinations(members, 2))
    return pairs


def _clusters(fname: str, toks: dict, exhaustive: bool) -> list[str]:
    """Students whose answers to ``fname`` are alike, grouped (linked pairs above the threshold)."""
    by_variant: dict[tuple, list[str]] = {}
    for student in sorted(toks):
        by_variant.setdefault(tuple(toks[student]), []).append(student)
    variants = list(by_variant)
    group = {s: s for members in by_variant.values() for s in members}

    def find(s):
        while group[s] != s:
            s = group[s]
        return s

    best = {}
    for members in by_variant.values():  # identical answers: alike at 100%
        for other in members[1:]:
            group[find(other)] = find(members[0])
            best[(members[0], other)] = 1.0
    if exhaustive or len(variants) <= EXHAUSTIVE_MAX:
        pairs = combinations(range(len(variants)), 2)
    else:
        pairs = sorted(_candidates(variants))
    for i, j in pairs:
        r = alike(list(variants[i]), list(variants[j]))
        if r >= THRESHOLD:
            a, b = by_variant[variants[i]][0], by_variant[variants[j]][0]
            group[find(b)] = find(a)
            best[(a, b)] = r
    clusters: dict[str, list[str]] = {}
    for s in sorted(group):
        clusters.setdefault(find(s), []).append(s)
    lines = []
    for members in clusters.values():
        if len(members) > 1:
            inside = [r for (a, b), r in best.items() if a in members and b in members]
            lines.append(f"{fname}: {', '.join(members)} are alike ({min(inside):.0%} or more)")
    return sorted(lines)


def report(answers: dict, catalogue, *, exhaustive: bool = False) -> list[str]:
    """Lines naming answers alike nnlib's and groups of students whose answers are alike;
    ``answers`` is {student: {function: normalised source}}."""
    toks = {s: {f: verdict.tokens(code) for f, code in answers[s].items()} for s in sorted(answers)}
    reference = {}
    if catalogue is not None:
        for name, ex in catalogue.exercises.items():
            try:
                code = functions_of(inspect.getsource(ex.answer)).get(ex.answer.__name__)
            except Exception:  # noqa: BLE001 - a lambda or a builtin: nothing to compare
                continue
            if code:
                reference[name] = verdict.tokens(code)
    lines = []
    seen: dict[tuple, float] = {}  # identical answers are compared with nnlib's once
    for student, funcs in toks.items():
        for fname, t in sorted(funcs.items()):
            if reference.get(fname):
                key = (fname, *t)
                if key not in seen:
                    seen[key] = alike(t, reference[fname])
                r = seen[key]
                if r >= THRESHOLD:
                    lines.append(f"{student}: {fname} is {r:.0%} alike nnlib's answer")
    for fname in sorted({f for funcs in toks.values() for f in funcs}):
        lines += _clusters(fname, {s: funcs[fname] for s, funcs in toks.items() if fname in funcs}, exhaustive)
    return lines
