"""The similarity report: identical and near-identical answers grouped, the usual ones left alone at scale."""

from __future__ import annotations

import random
import re
import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from autograder import similarity, verdict

OPS = ["+", "-", "*"]
SHAPES = [  # statement shapes of an answer of one's own: {i} the new variable, {a} {b} earlier ones
    "    v{i} = v{a} {op} {c}",
    "    v{i} = np.{fn}(v{a})",
    "    if v{a} > {c}:\n        v{i} = v{b} {op} {c}\n    else:\n        v{i} = v{a}",
    "    v{i} = [v{a} {op} k for k in range({c})]",
    "    v{i} = max(v{a}, v{b}) {op} min(v{a}, {c})",
    "    for k in range({c}):\n        v{a} = v{a} {op} k\n    v{i} = v{a}",
    "    v{i} = v{a} if v{b} < {c} else v{b} {op} {c}",
    "    v{i} = sum((v{a}, v{b}, {c}))",
]
FNS = ["exp", "log", "tanh", "sqrt", "abs", "sum", "mean", "max"]


def random_function(rng: random.Random, name: str = "answer") -> str:
    """An answer of its own: 12 to 16 random statements of random shapes."""
    lines = rng.randint(12, 16)
    body = [rng.choice(SHAPES).format(i=i + 1, a=rng.randrange(i + 1), b=rng.randrange(i + 1), op=rng.choice(OPS),
                                      c=rng.randint(2, 99), fn=rng.choice(FNS)) for i in range(lines)]
    return f"def {name}(v0):\n" + "\n".join(body) + f"\n    return v{lines}\n"


def renamed_copy(code: str) -> str:
    """What a copier does: other names, a comment, one constant changed."""
    out = re.sub(r"\bv(\d+)\b", r"tmp_\1", re.sub(r"\bv0\b", "x", code))
    out = re.sub(r"(?<=[ (])(\d+)\b", lambda m: str(int(m.group(1)) + 1), out, count=1)
    return "# my own work\n" + out


def _answers(codes: dict) -> dict:
    return {s: similarity.functions_of(c) for s, c in codes.items()}


def test_identical_and_renamed_copies_are_grouped_others_are_not():
    rng = random.Random(0)
    honest = {f"h{i}": random_function(rng) for i in range(6)}
    codes = {**honest, "copier": renamed_copy(honest["h2"]), "twin": honest["h4"]}
    lines = similarity.report(_answers(codes), None)
    groups = [ln for ln in lines if ln.startswith("answer:")]
    assert any("copier" in g and "h2" in g for g in groups), lines
    assert any("h4" in g and "twin" in g and "(100% or more)" in g for g in groups), lines
    assert not any(h in g for g in groups for h in ("h0", "h1", "h3", "h5")), lines


def test_alike_the_reference_is_named():
    class Ex:
        pass

    rng = random.Random(1)
    ref_code = random_function(rng)
    namespace = {}
    exec(ref_code, namespace)  # a reference function whose source inspect can read back is needed
    ex = Ex()
    ex.answer = namespace["answer"]

    class Cat:
        exercises = {"answer": ex}

    import inspect
    import linecache

    linecache.cache["<ref>"] = (len(ref_code), None, ref_code.splitlines(True), "<ref>")
    ex.answer.__code__ = ex.answer.__code__.replace(co_filename="<ref>")
    assert inspect.getsource(ex.answer) == ref_code
    lines = similarity.report(_answers({"a": renamed_copy(ref_code), "b": random_function(rng)}), Cat())
    assert any(ln.startswith("a: answer is") and "alike nnlib's answer" in ln for ln in lines), lines
    assert not any(ln.startswith("b:") for ln in lines)


def test_a_large_class_is_compared_in_far_fewer_than_all_pairs_and_the_copies_are_found():
    rng = random.Random(2)
    n = 8 * similarity.EXHAUSTIVE_MAX
    codes = {f"s{i:04d}": random_function(rng) for i in range(n)}
    codes["copy_of_s0100"] = renamed_copy(codes["s0100"])
    codes["copy_of_s0300"] = renamed_copy(codes["s0300"])
    toks = {s: verdict.tokens(f["answer"]) for s, f in _answers(codes).items()}
    variants = list({tuple(t) for t in toks.values()})
    candidates = similarity._candidates(variants)
    assert len(candidates) < 0.05 * len(variants) * (len(variants) - 1) / 2
    fast = similarity.report(_answers(codes), None)
    assert any("copy_of_s0100" in ln and "s0100" in ln for ln in fast), fast
    assert any("copy_of_s0300" in ln and "s0300" in ln for ln in fast), fast
    # Only the copies: the honest answers are each their own.
    groups = sorted(ln.split(" are alike")[0] for ln in fast if ln.startswith("answer:"))
    assert groups == ["answer: copy_of_s0100, s0100", "answer: copy_of_s0300, s0300"], groups


def test_a_small_class_is_compared_pair_by_pair(monkeypatch):
    rng = random.Random(3)
    base = random_function(rng)
    codes = {f"s{i}": renamed_copy(base) if i % 2 else base for i in range(10)}
    codes.update({f"o{i}": random_function(rng) for i in range(10)})
    exhaustive = similarity.report(_answers(codes), None, exhaustive=True)
    calls = []
    real = similarity._candidates
    monkeypatch.setattr(similarity, "_candidates", lambda v: calls.append(len(v)) or real(v))
    assert similarity.report(_answers(codes), None) == exhaustive
    assert calls == []  # no MinHash for a small class: every pair was compared
    more = {**codes, **{f"x{i}": random_function(rng) for i in range(similarity.EXHAUSTIVE_MAX)}}
    similarity.report(_answers(more), None)
    assert calls and calls[0] > similarity.EXHAUSTIVE_MAX  # beyond it, candidates only


def test_student_answers_reads_the_notebooks_functions_and_skips_links(tmp_path):
    rng = random.Random(4)
    code = random_function(rng, name="softmax")
    nb = new_notebook(cells=[new_code_cell(code), new_code_cell("def short(x):\n    return x"),
                             new_code_cell("this is not python (")])
    nbformat.write(nb, str(tmp_path / "ch.ipynb"))
    (tmp_path / "link.ipynb").symlink_to(tmp_path / "ch.ipynb")
    got = similarity.student_answers(tmp_path, ["ch"])
    assert list(got) == ["softmax"]  # the one-liner is too short to compare; broken code is skipped
    assert similarity.student_answers(tmp_path, ["link"]) == {}


def test_the_candidates_are_the_same_in_every_process():
    """Python's ``hash()`` of strings changes with every process (PYTHONHASHSEED): MinHash over it would
    pair different answers in two runs of ``export`` on the same gradebook."""
    import os
    import subprocess
    import sys

    script = (
        "import random, sys; sys.path.insert(0, {tests!r}); import test_similarity as t; "
        "from autograder import similarity, verdict; rng = random.Random(5); "
        "base = [t.random_function(rng) for _ in range(40)]; "
        "codes = base + [t.renamed_copy(c) for c in base[:20]] + [c.replace(' + ', ' - ', 2) for c in base[20:]]; "
        "v = sorted({{tuple(verdict.tokens(similarity.functions_of(c)['answer'])) for c in codes}}); "
        "print(sorted(similarity._candidates(v)))"
    ).format(tests=os.path.dirname(os.path.abspath(__file__)))
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PYTHONHASHSEED": seed}) for seed in ("1", "2", "3")]
    assert all(r.returncode == 0 for r in runs), [r.stderr[-2000:] for r in runs]
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout
