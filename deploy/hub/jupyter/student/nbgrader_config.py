"""nbgrader settings of a student (the course id and the exchange come from ../common)."""

import os

c = get_config()  # noqa: F821 (injected by traitlets)

# Test-only knob (tests/test_hub.py without root): when every hub user runs as ONE Unix account
# (jupyterhub's SimpleLocalProcessSpawner), nbgrader would name every submission after that account;
# take the hub user name instead. Never set in the recipe: with real accounts the Unix name is right.
if os.environ.get("NN_HUB_STUDENT_ID_FROM_HUB") == "1" and os.environ.get("JUPYTERHUB_USER"):
    c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
