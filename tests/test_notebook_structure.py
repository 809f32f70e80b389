"""The structure every chapter's solution notebook shares, checked once for all chapters.

A chapter is a folder ``solutions/<chapter>/`` holding ``<chapter>.ipynb``; its catalogue is the
``autograder.exercises`` module whose ``CATALOGUE.chapter`` is the folder's name. For each chapter:

- the folder holds only the notebook (every file in it is copied into the student release), which
  is valid nbformat with the python3 kernel;
- locked markdown introduction cells (the first one ``intro``), then one locked ``setup`` cell
  that imports the chapter's ``check`` and ``grade`` explicitly, before any check;
- every exercise of the catalogue, in four consecutive cells: a locked statement announcing its
  points, a solution cell (def line and docstring outside the solution markers), the visible
  ``check(...)``, and one locked graded cell ``test_<name>`` calling ``grade(name, ...)`` and, in
  its hidden-tests block, ``grade(name, ..., hidden=True)``;
- unique grade_ids, complete nbgrader metadata, points that add up to what the introduction says;
- the course standard (COURSE.md section 7): graded cells tagged ``raises-exception`` so that Run
  All goes on past an unfinished exercise; at least one written answer graded by hand, with points
  and a rubric in its solution; progressive hints folded away in every statement; a
  ``**Predict.**`` prompt before the experiments; the introduction says how long the slowest cell takes;
- no star imports, ``sys.path`` tricks or autoreload; outputs only in ``# NBVAL_CHECK_OUTPUT`` cells;
- the solutions pass their own checks (without a kernel), and the released stubs are "not attempted".

What is specific to one chapter (its points per exercise, its plotting helpers) stays in
``tests/test_<chapter topic>_chapter.py``. The notebooks themselves run under nbval
(``python -m pytest --nbval-lax solutions``).
"""

import ast
import functools
import importlib
import pkgutil
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the setup cells import the plotting helpers

import nbformat  # noqa: E402
import pytest  # noqa: E402

import autograder.exercises  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"

GRADE_CALL = re.compile(r"""\bgrade\(\s*["'](\w+)["']""")
CALL_ARGUMENTS = re.compile(r"""\b(?:check|grade)\(\s*["'](\w+)["'],\s*([^)]*)\)""")
SOLUTION_REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.S | re.M)
HIDDEN_REGION = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS\n.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)
INTRO_HEADINGS = ("What you will build", "What you need from earlier chapters", "How long it takes to run")
NBVAL_MARKER = "# NBVAL_CHECK_OUTPUT"

#: The grade_id suffix of an exercise's statement cell. Chapter 2's notebook names them
#: ``<name>_description`` (its graded cells and gradebook were created that way); the others
#: ``<name>_statement``. Renaming a grade_id would change the gradebook, so the difference stays.
STATEMENT_SUFFIX = {"02_losses": "_description"}


@dataclass(frozen=True)
class Chapter:
    name: str  # the folder's name, e.g. "01_activations", and the catalogue's chapter id
    module: str  # the catalogue's module, e.g. "autograder.exercises.activations"
    catalogue: object

    @property
    def folder(self):
        return SOLUTIONS / self.name

    @property
    def path(self):
        return self.folder / f"{self.name}.ipynb"

    @property
    def statement_suffix(self):
        return STATEMENT_SUFFIX.get(self.name, "_statement")

    def __str__(self):
        return self.name


def _catalogues():
    """``{chapter id: module name}`` of every catalogue in autograder.exercises."""
    found = {}
    for info in pkgutil.iter_modules(autograder.exercises.__path__):
        module = importlib.import_module(f"autograder.exercises.{info.name}")
        if hasattr(module, "CATALOGUE"):
            found[module.CATALOGUE.chapter] = module
    return found


CHAPTER_FOLDERS = sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
CATALOGUES = _catalogues()
CHAPTERS = [Chapter(n, CATALOGUES[n].__name__, CATALOGUES[n].CATALOGUE) for n in CHAPTER_FOLDERS if n in CATALOGUES]


def _mark(chapter):
    """The chapter's marker, ``ch01`` for ``01_activations`` (see pyproject.toml)."""
    return getattr(pytest.mark, f"ch{chapter.name.split('_')[0]}")


def by_chapter():
    return [pytest.param(c, id=c.name, marks=_mark(c)) for c in CHAPTERS]


def by_exercise():
    return [pytest.param(c, name, id=f"{c.name}-{name}", marks=_mark(c)) for c in CHAPTERS for name in c.catalogue.exercises]


@functools.lru_cache(maxsize=None)
def _read(path):
    return nbformat.read(str(path), as_version=4)


def notebook(chapter):
    return _read(chapter.path)


def nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def graded_cells(nb):
    """Every cell that carries points: the autograded test cells and the written answers."""
    return [c for c in nb.cells if nbgrader(c).get("grade")]


def autograded_cells(nb):
    """The autograded cells: locked code cells with points (not the written answers)."""
    return [c for c in graded_cells(nb) if c.cell_type == "code"]


def written_answer_cells(nb):
    """The answers graded by hand: markdown cells that are both graded and a solution."""
    return [c for c in graded_cells(nb) if c.cell_type == "markdown" and nbgrader(c).get("solution")]


def solution_cells(nb):
    """The code cells students fill in (the written answers are markdown solutions, apart)."""
    return [c for c in nb.cells if nbgrader(c).get("solution") and c.cell_type == "code"]


def cell_with_id(nb, grade_id):
    (cell,) = [c for c in nb.cells if nbgrader(c).get("grade_id") == grade_id]
    return cell


def code_lines(source):
    """The lines of ``source`` that are neither blank nor comments."""
    return [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def expected_arguments(chapter, name):
    """``"name"`` or ``"name, forward"``: the functions a check or grade call of ``name`` passes."""
    forward = chapter.catalogue[name].forward
    return f"{name}, {forward}" if forward else name


def released(source):
    """What nbgrader's ClearSolutions makes of a solution cell (the stub students get)."""
    return SOLUTION_REGION.sub(lambda m: f"{m.group(1)}raise NotImplementedError()", source)


def run_cells(chapter, sources):
    """Execute the setup cell (without its IPython magics), then ``sources``; return the namespace."""
    nb = notebook(chapter)
    setup = cell_with_id(nb, "setup")
    namespace = {}
    code = "\n".join(line for line in setup.source.splitlines() if not line.lstrip().startswith("%"))
    exec(compile(code, f"{chapter.path}:setup", "exec"), namespace)  # noqa: S102 - our own notebook's cells
    for source in sources:
        exec(compile(source, str(chapter.path), "exec"), namespace)  # noqa: S102
    return namespace


# -- the chapters and their catalogues -------------------------------------------------------------


def test_chapters_are_found():
    assert {c.name for c in CHAPTERS} >= {"01_activations", "02_losses", "03_backprop"}


def test_every_chapter_folder_has_a_catalogue_and_every_catalogue_a_folder():
    assert set(CHAPTER_FOLDERS) == set(CATALOGUES), "solutions/ folders and catalogues' chapter ids differ"


# -- files and metadata ----------------------------------------------------------------------------


@pytest.mark.parametrize("chapter", by_chapter())
def test_the_chapter_folder_holds_only_the_notebook(chapter):
    # Every file in solutions/<chapter>/ is copied into the student release.
    assert sorted(p.name for p in chapter.folder.iterdir()) == [chapter.path.name]


@pytest.mark.parametrize("chapter", by_chapter())
def test_notebook_is_valid_and_uses_the_python3_kernel(chapter):
    nb = notebook(chapter)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("chapter", by_chapter())
def test_grade_ids_are_unique_and_nbgrader_metadata_complete(chapter):
    nb = notebook(chapter)
    ids = [nbgrader(c)["grade_id"] for c in nb.cells if nbgrader(c)]
    assert len(ids) == len(set(ids)), f"duplicate grade_ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    for cell in nb.cells:
        meta = nbgrader(cell)
        if meta:
            assert {"grade", "solution", "locked", "grade_id", "schema_version", "task"} <= set(meta), cell.id
            assert meta["schema_version"] == 3, cell.id


# -- introduction and setup ------------------------------------------------------------------------


@pytest.mark.parametrize("chapter", by_chapter())
def test_introduction_cells_are_locked_markdown_before_the_setup(chapter):
    nb = notebook(chapter)
    setup = nb.cells.index(cell_with_id(nb, "setup"))
    intro = nb.cells[:setup]
    assert intro and nbgrader(intro[0]).get("grade_id") == "intro"
    for cell in intro:
        assert cell.cell_type == "markdown" and nbgrader(cell).get("locked"), cell.id
    text = "\n".join(c.source for c in intro)
    for heading in INTRO_HEADINGS:
        assert heading in text, f"the introduction has no {heading!r}"


@pytest.mark.parametrize("chapter", by_chapter())
def test_setup_cell_is_locked_and_imports_the_checks_explicitly(chapter):
    nb = notebook(chapter)
    setup = [c for c in nb.cells if nbgrader(c).get("grade_id") == "setup"]
    assert len(setup) == 1
    (cell,) = setup
    assert cell.cell_type == "code" and nbgrader(cell)["locked"]
    assert not re.search(r"import\s+\*", cell.source)
    assert "sys.path" not in cell.source and "autoreload" not in cell.source
    assert f"from {chapter.module} import check, grade" in cell.source
    # it comes before the first use of check or grade
    first_check = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and re.search(r"\b(check|grade)\(", c.source))
    assert nb.cells.index(cell) < first_check


@pytest.mark.parametrize("chapter", by_chapter())
def test_no_star_imports_path_tricks_or_autoreload(chapter):
    for cell in notebook(chapter).cells:
        if cell.cell_type == "code":
            assert not re.search(r"import\s+\*", cell.source), cell.source
            assert "sys.path" not in cell.source and "autoreload" not in cell.source, cell.source


# -- exercises: statement, solution, check, graded cell --------------------------------------------


@pytest.mark.parametrize("chapter", by_chapter())
def test_every_exercise_has_exactly_one_graded_cell(chapter):
    graded = {}
    for cell in autograded_cells(notebook(chapter)):
        meta = nbgrader(cell)
        assert cell.cell_type == "code" and meta["locked"] and not meta["solution"], meta["grade_id"]
        names = set(GRADE_CALL.findall(cell.source))
        assert len(names) == 1, f"{meta['grade_id']} should grade one exercise, grades {names}"
        graded.setdefault(names.pop(), []).append(cell)
    assert sorted(graded) == sorted(chapter.catalogue.exercises), "graded cells and catalogue exercises differ"
    for name, cells in graded.items():
        assert len(cells) == 1, f"{name} is graded in {len(cells)} cells"


@pytest.mark.parametrize("chapter, name", by_exercise())
def test_graded_cell_calls_grade_visibly_and_hidden_with_points(chapter, name):
    cell = cell_with_id(notebook(chapter), f"test_{name}")
    meta = nbgrader(cell)
    assert meta["grade"] and isinstance(meta.get("points"), int) and meta["points"] > 0, name
    args = expected_arguments(chapter, name)
    hidden = HIDDEN_REGION.search(cell.source)
    assert hidden, f"no hidden-tests block (### BEGIN/END HIDDEN TESTS) in test_{name}"
    visible = HIDDEN_REGION.sub("", cell.source)
    assert re.search(rf'^grade\("{name}", {re.escape(args)}\)', visible, re.M) and "hidden=True" not in visible
    assert f'grade("{name}", {args}, hidden=True)' in hidden.group(0)


@pytest.mark.parametrize("chapter, name", by_exercise())
def test_exercise_layout_statement_solution_check_graded(chapter, name):
    nb = notebook(chapter)
    solution = cell_with_id(nb, f"{name}_solution")
    i = nb.cells.index(solution)
    statement, check, graded = nb.cells[i - 1], nb.cells[i + 1], nb.cells[i + 2]
    # the statement: locked markdown, the exercise's heading with the points of its graded cell
    points = nbgrader(graded)["points"]
    assert statement.cell_type == "markdown" and nbgrader(statement).get("locked")
    assert nbgrader(statement)["grade_id"] == f"{name}{chapter.statement_suffix}"
    assert re.search(rf"### Exercise \d+: `{name}` \({points} point{'s' if points > 1 else ''}\)", statement.source), \
        f"{name}: the heading should say ({points} point{'s' if points > 1 else ''})"
    # the visible check: plain code (a comment may explain it), then the graded cell
    expected_check = f'check("{name}", {expected_arguments(chapter, name)})'
    assert check.cell_type == "code" and not nbgrader(check)
    assert code_lines(check.source) == [expected_check], check.source
    assert nbgrader(graded).get("grade_id") == f"test_{name}"


@pytest.mark.parametrize("chapter", by_chapter())
def test_every_exercise_has_a_solution_cell_with_def_and_docstring_outside_the_markers(chapter):
    cells = solution_cells(notebook(chapter))
    assert sorted(nbgrader(c)["grade_id"] for c in cells) == sorted(f"{n}_solution" for n in chapter.catalogue.exercises)
    for cell in cells:
        name = nbgrader(cell)["grade_id"].removesuffix("_solution")
        meta = nbgrader(cell)
        assert cell.cell_type == "code" and not meta["grade"] and not meta["locked"], name
        source = cell.source
        assert source.count("### BEGIN SOLUTION") == 1 and source.count("### END SOLUTION") == 1, name
        before = source.partition("### BEGIN SOLUTION")[0]
        assert re.match(rf"def {name}\(", before), f"{name}: the def line must come first, outside the markers"
        tree = ast.parse(before.rstrip() + "\n    pass\n")  # the signature and docstring alone must parse
        (function,) = tree.body
        assert isinstance(function, ast.FunctionDef) and function.name == name
        assert ast.get_docstring(function), f"{name} needs a docstring above the solution markers"


@pytest.mark.parametrize("chapter", by_chapter())
def test_every_check_and_grade_call_passes_the_function_and_its_forward(chapter):
    # A backward exercise's check differentiates the student's own forward (for a loss, the loss itself).
    for cell in notebook(chapter).cells:
        for name, args in CALL_ARGUMENTS.findall(cell.source):
            functions = [a.strip() for a in args.split(",") if a.strip() and "=" not in a]
            assert ", ".join(functions) == expected_arguments(chapter, name), cell.source


@pytest.mark.parametrize("chapter", by_chapter())
def test_the_introduction_announces_the_total_points(chapter):
    nb = notebook(chapter)
    total = sum(nbgrader(c)["points"] for c in graded_cells(nb))
    intro = nb.cells[: nb.cells.index(cell_with_id(nb, "setup"))]
    assert re.search(rf"\b{total} points\b", "\n".join(c.source for c in intro)), f"the introduction should say {total} points"


# -- outputs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("chapter", by_chapter())
def test_outputs_only_in_nbval_checked_cells(chapter):
    for cell in notebook(chapter).cells:
        if cell.cell_type != "code":
            continue
        if cell.source.startswith(NBVAL_MARKER):
            assert cell.outputs and cell.execution_count is not None, cell.id  # nbval compares these
            assert not [o for o in cell.outputs if o.output_type == "error" or o.get("name") == "stderr"], cell.id
        else:
            assert not cell.outputs and cell.execution_count is None, f"stale output in {cell.source[:60]!r}"


# -- the solutions pass their checks; the released stubs are not attempted -------------------------


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    # a warning from a solution or a check would show up under the student's cell
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.mark.parametrize("chapter", by_chapter())
def test_solutions_pass_their_checks(chapter):
    namespace = run_cells(chapter, [c.source for c in solution_cells(notebook(chapter))])
    for name, exercise in chapter.catalogue.exercises.items():
        forward = namespace[exercise.forward] if exercise.forward else None
        for seed in (0, 7, 12345):
            for hidden in (False, True):
                report = chapter.catalogue.evaluate(name, namespace[name], forward, seed=seed, hidden=hidden)
                assert report.passed, str(report)
                assert "disagrees" not in report.message, str(report)


@pytest.mark.parametrize("chapter", by_chapter())
def test_released_stubs_are_not_attempted(chapter):
    stubs = [released(c.source) for c in solution_cells(notebook(chapter))]
    assert all("BEGIN SOLUTION" not in s and "raise NotImplementedError()" in s for s in stubs)
    namespace = run_cells(chapter, stubs)
    for name, exercise in chapter.catalogue.exercises.items():
        forward = namespace[exercise.forward] if exercise.forward else None
        report = chapter.catalogue.evaluate(name, namespace[name], forward)
        assert report.status == "not attempted", str(report)


# -- the course standard (COURSE.md section 7, made concrete in the helpers' COMMON.md) -------------


@pytest.mark.parametrize("chapter, name", by_exercise())
def test_graded_cells_let_run_all_continue(chapter, name):
    # JupyterLab's Run All stops at the first error unless the cell is tagged raises-exception;
    # nbgrader still scores a failing tagged cell 0.
    cell = cell_with_id(notebook(chapter), f"test_{name}")
    assert "raises-exception" in cell.metadata.get("tags", []), f"test_{name} needs the cell tag raises-exception"


@pytest.mark.parametrize("chapter", by_chapter())
def test_a_written_answer_graded_by_hand_with_points_and_a_rubric(chapter):
    nb = notebook(chapter)
    answers = written_answer_cells(nb)
    assert answers, "no written answer graded by hand (an nbgrader markdown cell with grade and solution)"
    for cell in answers:
        meta = nbgrader(cell)
        assert meta["grade_id"].startswith("written_"), meta["grade_id"]
        assert isinstance(meta.get("points"), (int, float)) and meta["points"] > 0, meta["grade_id"]
        assert not meta["locked"] and not meta["task"], meta["grade_id"]
        region = re.search(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S)
        assert region, f"{meta['grade_id']}: the model answer goes between ### BEGIN SOLUTION and ### END SOLUTION"
        assert "Rubric" in region.group(1), f"{meta['grade_id']}: the solution region needs a **Rubric**"
        assert cell.source.strip().startswith("### BEGIN SOLUTION") and cell.source.strip().endswith("### END SOLUTION"), \
            f"{meta['grade_id']}: nothing outside the solution region (it would reach students with the answer removed)"
        question = nb.cells[nb.cells.index(cell) - 1]
        assert question.cell_type == "markdown" and nbgrader(question).get("locked"), \
            f"{meta['grade_id']}: the question is a locked markdown cell right above the answer"
        points = meta["points"]
        assert re.search(rf"\b{points:g} points?\b", question.source), f"{meta['grade_id']}: the question should say {points:g} points"


HINT = re.compile(r"<details>\s*<summary>\s*Hint", re.I)


@pytest.mark.parametrize("chapter, name", by_exercise())
def test_every_statement_has_progressive_hints_folded_away(chapter, name):
    nb = notebook(chapter)
    statement = nb.cells[nb.cells.index(cell_with_id(nb, f"{name}_solution")) - 1]
    assert HINT.search(statement.source), f"{name}: the statement needs hints in <details><summary>Hint 1</summary>...</details>"
    for hint in re.findall(r"<details>.*?</details>", statement.source, re.S):
        assert "```" not in hint, f"{name}: a hint gives a direction or a key step, never code"


PLOT = re.compile(r"\b(plt\.|viz\.|plot_|_plot\b|explorer|interact|widget|show_)")


@pytest.mark.parametrize("chapter", by_chapter())
def test_predict_before_the_experiments(chapter):
    nb = notebook(chapter)
    prompts = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.lstrip().startswith("**Predict.**")]
    assert prompts, "no **Predict.** prompt before an experiment"
    for i in prompts:
        following = next((c for c in nb.cells[i + 1:] if c.cell_type == "code"), None)
        assert following is not None and not nbgrader(following).get("grade"), \
            f"the **Predict.** prompt in cell {i} should be followed by the experiment that shows it"
    plots = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and not nbgrader(c) and PLOT.search(c.source)]
    if plots:
        assert prompts[0] < plots[-1], "the **Predict.** prompts should come before the experiments they ask about"


SLOWEST = re.compile(r"slowest cells?\b.{0,300}?(\d+(\.\d+)?\s*(s|seconds?|ms|minutes?)\b|(half )?a second\b)", re.I | re.S)


@pytest.mark.parametrize("chapter", by_chapter())
def test_the_introduction_says_how_long_the_slowest_cell_takes(chapter):
    nb = notebook(chapter)
    intro = "\n".join(c.source for c in nb.cells[: nb.cells.index(cell_with_id(nb, "setup"))])
    assert SLOWEST.search(intro), "the introduction should say how long the slowest cell takes (e.g. 'the slowest cell takes about 4 s')"
