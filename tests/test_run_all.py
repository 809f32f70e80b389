"""Run All on an untouched release goes to the end, and only the graded cells fail.

A student who runs every cell of a fresh chapter must see every plot and widget (drawn with nnlib's
reference while their function is unwritten): an experiment cell that calls an unwritten stub and
raises would stop JupyterLab's Run All there. Graded cells are tagged ``raises-exception``, so they
may fail (and still score 0 in nbgrader); every other cell must not.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import nbg

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = [pytest.param(c, marks=getattr(pytest.mark, "ch" + c.split("_")[0])) for c in nbg.chapters_in(ROOT)]

pytestmark = pytest.mark.notebooks


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_run_all_on_the_release_fails_only_in_graded_cells(chapter, tmp_path):
    release = ROOT / "chapters" / chapter / f"{chapter}.ipynb"
    nb = nbformat.read(str(release), as_version=4)
    NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3", shutdown_kernel="immediate",
                   resources={"metadata": {"path": str(release.parent)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    failed = [c for c in code if any(o.get("output_type") == "error" for o in c.outputs)]
    untagged = [c for c in failed if "raises-exception" not in c.metadata.get("tags", [])]
    assert not untagged, "cells that stop Run All on a fresh release:\n" + "\n---\n".join(
        f"{c.source[:200]}\n=> {next(o for o in c.outputs if o.output_type == 'error').ename}" for c in untagged)
    graded = [c for c in code if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded and all(c in failed for c in graded), "every graded cell of the untouched release must fail"
    assert all(c.get("execution_count") for c in code), "some code cells did not run"
