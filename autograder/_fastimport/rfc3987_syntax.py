"""Stand-in that makes ``import rfc3987_syntax`` fail at once, for the grader's nbgrader processes.

The real package (an optional extra of jsonschema, pulled in by Jupyter) compiles a Lark grammar at
import time: about 2 s in every process that imports nbformat, i.e. in every ``nbgrader`` command.
jsonschema imports it inside ``suppress(ImportError)`` and only uses it to check the "iri" and
"iri-reference" string formats, which notebook validation never uses. The grader puts this folder
first on ``PYTHONPATH`` of the nbgrader subprocesses it starts (set ``NN_COURSE_FULL_IMPORTS=1``
to turn that off).
"""

raise ImportError("rfc3987_syntax is skipped by the course's grader (slow import, unused here)")
