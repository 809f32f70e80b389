"""Feedback a student opens quickly and can read offline.

nbgrader's feedback page titles every graded cell "Test cell", keeps long messages on one line,
loads MathJax from a CDN (offline, maths shows as raw ``$...$``) and inlines Bootstrap and full-size
plots (about 0.8 MB for chapter 1). ``configure(c)`` switches nbgrader's feedback to:

- the template ``autograder/templates/course_feedback``: each graded cell titled by its exercise and
  points (a table of contents with the lost points in red), messages wrapped, a few lines of CSS;
- ``OfflineMath``: every ``$...$`` and ``$$...$$`` of the markdown becomes MathML, which browsers
  render natively (no script, no network);
- ``CompactFigures``: plots re-encoded as palette PNGs at most ``MAX_WIDTH`` pixels wide.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import re
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Integer

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "course_feedback"

# Code (fenced or inline) is left alone; maths is $$...$$ (display) or $...$ (inline, on one line).
_CODE_OR_MATH = re.compile(r"(?P<fence>```.*?```)|(?P<code>`[^`\n]*`)|\$\$(?P<display>.+?)\$\$|\$(?P<inline>[^$\n]+?)\$", re.S)


@functools.lru_cache(maxsize=4096)  # the same statements' maths recur in every student's feedback
def tex_to_mathml(tex: str, display: bool) -> str:
    """MathML for ``tex``; the TeX itself, escaped, in ``<code>`` if it cannot be converted."""
    from latex2mathml.converter import convert

    try:
        return convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - an unconvertible formula is shown as its source, never lost
        return f"<code>{html.escape(tex)}</code>"


def math_to_mathml(markdown: str) -> str:
    """``markdown`` with its maths replaced by MathML, code spans and fences untouched."""

    def replace(match):
        if match["fence"] or match["code"]:
            return match[0]
        display = match["display"] is not None
        mathml = tex_to_mathml(match["display"] if display else match["inline"], display)
        return f"\n\n{mathml}\n\n" if display else mathml

    return _CODE_OR_MATH.sub(replace, markdown)


class OfflineMath(Preprocessor):
    """Markdown maths as MathML, so that the feedback needs no MathJax from the internet."""

    enabled = Bool(True)  # nbconvert's preprocessors are off unless enabled

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown":
            cell.source = math_to_mathml(cell.source)
        return cell, resources


class CompactFigures(Preprocessor):
    """Plots re-encoded as palette PNGs no wider than ``max_width``: a feedback page is a report, not a gallery."""

    enabled = Bool(True)
    max_width = Integer(640, help="widest figure, in pixels").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                data["image/png"] = self.shrink(data["image/png"])
        return cell, resources

    def shrink(self, encoded: str) -> str:
        from PIL import Image  # Pillow comes with matplotlib

        try:
            image = Image.open(io.BytesIO(base64.b64decode(encoded)))
            if image.width > self.max_width:
                image = image.resize((self.max_width, round(image.height * self.max_width / image.width)))
            buffer = io.BytesIO()
            image.convert("RGB").quantize(colors=64).save(buffer, format="PNG", optimize=True)
        except Exception:  # noqa: BLE001 - an unreadable image stays as it was
            return encoded
        smaller = base64.b64encode(buffer.getvalue()).decode("ascii")
        return smaller if len(smaller) < len(encoded) else encoded


def configure(c) -> None:
    """Point nbgrader's ``generate_feedback`` at the course's template and preprocessors (in nbgrader_config.py)."""
    c.HTMLExporter.template_name = TEMPLATE_NAME
    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATES)]
    c.HTMLExporter.exclude_anchor_links = True  # a "¶" after every heading is noise in a report
    preprocessors = list(c.GenerateFeedback.preprocessors or [])
    for name in ("autograder.feedback.OfflineMath", "autograder.feedback.CompactFigures"):
        if name not in preprocessors:
            preprocessors.insert(max(len(preprocessors) - 1, 0), name)  # before the CSS header preprocessor
    c.GenerateFeedback.preprocessors = preprocessors
