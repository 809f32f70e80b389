"""nbgrader settings for this course (nbgrader 0.9.6).

Used by stock ``nbgrader`` commands run from the repository root, loaded by ``course/nbgrader_config.py``
(which ``python -m autograder grade`` writes), and copied by ``python -m autograder`` into every temporary
course folder it runs nbgrader in (paths are then given on the command line).

One course folder: in the repository itself, every nbgrader command and formgrader, started from the
root or from ``course/``, use ``course/`` (its gradebook, ``submitted/``, ``autograded/``, ``feedback/``)
with the repository's ``solutions/`` and ``chapters/`` as source and release.

Stock ``nbgrader autograde`` runs student code with your rights and decides each test cell inside the
student's kernel. ``python -m autograder grade`` runs each kernel in a sandbox and decides the points
outside it (it adds its own settings to a private copy of this file; see autograder/grading.py).
"""

import os

c = get_config()  # noqa: F821 (injected by traitlets)

c.CourseDirectory.course_id = "nn-from-first-principles"
# solutions/<chapter>/<chapter>.ipynb is the source; chapters/<chapter>/ is the release students get.
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "chapters"
# Never copy editor and interpreter debris into a release or over a submission.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store"]

# A test cell with any stderr output scores 0 in nbgrader; a correct answer that prints a debug line
# or triggers a RuntimeWarning must keep its points. Failures still show: they are error outputs.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?s).*"

# Per-cell timeout (seconds) when autograding; a cell over it is interrupted and fails. The slowest
# cell of any chapter takes under 5 s; a short timeout also bounds the rare stall in which nbclient
# never receives an idle kernel's reply (the grader then grades that submission a second time).
c.Execute.timeout = 30
# The default graceful kernel shutdown stalled ~3 s in 1 notebook of 10 here; immediate saves ~13%.
c.Execute.shutdown_kernel = "immediate"

# The gradebook. Unset, it is SQLite in the course folder (course/gradebook.db): one grading machine.
# For a class graded by several machines at once (`python -m autograder grade CHAPTER --shard K/N`) or
# TAs sharing one gradebook, set one PostgreSQL database here; every machine, every `python -m autograder`
# command and stock nbgrader and formgrader then use it. Put the password in ~/.pgpass or PGPASSWORD,
# not in this file. See the README, "Running a large class".
# c.CourseDirectory.db_url = "postgresql+psycopg://grader@db.example.edu/nncourse"

# A deleted test cell is put back (and graded) instead of staying "needs manual grade".
c.OverwriteCells.add_missing_cells = True

# Feedback shows test cells without their hidden-tests block (upstream shows them verbatim), and
# tracebacks without the hidden lines they would quote (autograder/nbgrader_extras.py).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.nbgrader_extras.ScrubHiddenTestTracebacks",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# Feedback a student opens quickly and reads offline: titled by exercise, messages wrapped, maths as
# MathML, small plots (autograder/feedback.py).
from autograder.feedback import configure as configure_feedback  # noqa: E402

configure_feedback(c)

# One course folder for the repository (not for the private copies of this file the grader makes,
# which have no nnlib/ beside them and get their paths on the command line).
_here = os.path.dirname(os.path.abspath(__file__))  # noqa: F821 (__file__ is set by traitlets)
if os.path.isdir(os.path.join(_here, "nnlib")) and os.path.isdir(os.path.join(_here, "solutions")):
    c.CourseDirectory.root = os.path.join(_here, "course")
    os.makedirs(c.CourseDirectory.root, exist_ok=True)  # nbgrader changes into it before anything else
    c.CourseDirectory.source_directory = os.path.join(_here, "solutions")
    c.CourseDirectory.release_directory = os.path.join(_here, "chapters")
