"""nbgrader settings of an instructor: the course folder, wherever they run nbgrader from.

The course folder (NN_COURSE_ROOT, set by the hub; default ~/nn-from-first-principles) holds a copy of the
repository's nbgrader_config.py (solutions/ is the source, chapters/ the release, ...); it is loaded here
so that the formgrader, the assignment list and a terminal anywhere in the home folder agree.
"""

import os

c = get_config()  # noqa: F821 (injected by traitlets)

root = os.environ.get("NN_COURSE_ROOT") or os.path.expanduser("~/nn-from-first-principles")
c.CourseDirectory.root = root
if os.path.isfile(os.path.join(root, "nbgrader_config.py")):
    load_subconfig(os.path.join(root, "nbgrader_config.py"))  # noqa: F821 (injected by traitlets)
    c.CourseDirectory.root = root  # the course file does not set it; keep it absolute anyway
