"""nbgrader settings every user of the hub shares (on JUPYTER_CONFIG_PATH, after the role folder).

The single-user server's environment carries NN_COURSE_ID and NN_COURSE_EXCHANGE (deploy/hub/hubctl.py);
the defaults are this course's id and nbgrader's usual exchange folder.
"""

import os

c = get_config()  # noqa: F821 (injected by traitlets)

c.CourseDirectory.course_id = os.environ.get("NN_COURSE_ID", "nn-from-first-principles")
# nbgrader's default (file-system) exchange: release, fetch, submit, collect and feedback all go
# through this folder, which every single-user server must see at the same path (mode 0777).
c.Exchange.root = os.environ.get("NN_COURSE_EXCHANGE", "/srv/nbgrader/exchange")
