"""The feedback page: titled by exercise, wrapped, maths as MathML (no internet), small."""

from __future__ import annotations

import base64
import io
import re

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from nbconvert import HTMLExporter  # noqa: E402
from traitlets.config import Config  # noqa: E402

from autograder import feedback  # noqa: E402


def test_maths_become_mathml_and_code_is_left_alone():
    text = "Inline $z = Wx + b$ and\n$$\\frac{\\partial J}{\\partial w}$$\nbut `np.sum(x$y)` and\n```\na = '$x$'\n```"
    out = feedback.math_to_mathml(text)
    assert out.count("<math") == 2 and 'display="block"' in out
    assert "`np.sum(x$y)`" in out and "a = '$x$'" in out
    assert "$z" not in out and "\\frac" not in out


def test_an_unconvertible_formula_is_shown_as_its_source():
    feedback.tex_to_mathml.cache_clear()
    assert feedback.tex_to_mathml("\\begin{nonsense", False) == "<code>\\begin{nonsense</code>"


def _png(width_inches):
    fig = Figure(figsize=(width_inches, 3), dpi=100)
    fig.add_subplot().plot(range(50), [i * i for i in range(50)])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def test_figures_are_shrunk_to_a_palette_png_no_wider_than_the_limit():
    from PIL import Image

    big = _png(12)
    small = feedback.CompactFigures().shrink(big)
    assert len(small) < len(big) / 2
    assert Image.open(io.BytesIO(base64.b64decode(small))).width == 640
    assert feedback.CompactFigures().shrink("not a png") == "not a png"


def _graded_notebook():
    nb = nbformat.v4.new_notebook()
    statement = nbformat.v4.new_markdown_cell("## Exercise 1\nShow that $\\sigma'(x) = \\sigma(x)(1 - \\sigma(x))$.")
    test = nbformat.v4.new_code_cell('grade("sigmoid", sigmoid)')
    test.metadata.nbgrader = {"grade": True, "solution": False, "grade_id": "test_sigmoid", "points": 2, "score": 0.0}
    message = ("CheckFailed: On standard normal inputs of shape (4, 5): the result is wrong: 20 of 20 elements are off; "
               "the worst is at index (3, 4) ... Likely cause: the sign of the exponent is flipped.")
    test.outputs = [nbformat.v4.new_output("error", ename="CheckFailed", evalue=message, traceback=[message])]
    written = nbformat.v4.new_markdown_cell("Because the derivative is at most 0.25.")
    written.metadata.nbgrader = {"grade": True, "solution": True, "grade_id": "written_relu_vs_sigmoid", "points": 3,
                                 "score": 2.0, "comment": "Say why the product vanishes."}
    plot = nbformat.v4.new_code_cell("plot()")
    plot.outputs = [nbformat.v4.new_output("display_data", data={"image/png": _png(12), "text/plain": "<Figure>"})]
    nb.cells = [statement, test, written, plot]
    return nb


@pytest.fixture
def page():
    c = Config()
    c.GenerateFeedback.preprocessors = ["nbgrader.preprocessors.GetGrades", "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"]
    feedback.configure(c)
    exporter = HTMLExporter(config=c)
    for name in c.GenerateFeedback.preprocessors:
        if name.startswith("autograder"):
            exporter.register_preprocessor(name, enabled=True)
    resources = {"nbgrader": {"notebook": "01_activations", "score": 2.0, "max_score": 5.0, "late_penalty": 0}}
    html, _ = exporter.from_notebook_node(_graded_notebook(), resources=resources)
    return html


def test_configure_installs_the_preprocessors_before_the_css_header():
    c = Config()
    c.GenerateFeedback.preprocessors = ["a.B", "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"]
    feedback.configure(c)
    assert c.GenerateFeedback.preprocessors == ["a.B", "autograder.feedback.OfflineMath", "autograder.feedback.CompactFigures",
                                                "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"]
    assert c.HTMLExporter.template_name == "course_feedback"


def test_each_graded_cell_is_titled_by_its_exercise_and_points(page):
    assert "Exercise <code>sigmoid</code>" in page and "0.0 / 2.0 points" in page
    assert "Written answer: relu vs sigmoid" in page and "2.0 / 3.0 points" in page
    assert "Say why the product vanishes." in page
    assert "01_activations: 2.0 / 5.0 points" in page
    assert "Test cell" not in page


def test_messages_wrap_maths_need_no_internet_and_the_page_is_small(page):
    assert "white-space: pre-wrap" in page
    assert "Likely cause: the sign of the exponent is flipped." in page
    assert "<math" in page and "$\\sigma" not in page
    assert "mathjax" not in page.lower() and "<script" not in page  # nothing to load, nothing to run
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "bootstrap" not in page.lower()
    assert len(page) < 100_000, len(page)
