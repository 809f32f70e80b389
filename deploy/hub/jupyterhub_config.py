"""JupyterHub for the course on one machine: local Unix accounts (PAM), one single-user server per
user started as that user, nbgrader's default exchange in a shared folder.

Start it with ``python3 deploy/hub/hubctl.py start`` (as root); every setting is an environment variable
read by ``hubctl.load_settings()`` (defaults: /srv/nbgrader/exchange, /srv/jupyterhub, port 8000).
See deploy/README.md.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hubctl  # noqa: E402

c = get_config()  # noqa: F821 (injected by traitlets)
s = hubctl.load_settings()

# --- who may log in: local Unix accounts, checked by PAM; instructors are named, students listed.
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(s.instructors) | set(s.students)
# Admin rights on the hub (see and stop everyone's server) for the instructors; their course folder and
# gradebook are protected by Unix permissions, not by this.
c.Authenticator.admin_users = set(s.instructors)

# --- where it listens. The proxy (configurable-http-proxy, from npm) is the only public port.
c.JupyterHub.bind_url = s.public_url
c.JupyterHub.hub_bind_url = s.hub_url
c.ConfigurableHTTPProxy.api_url = s.proxy_api_url
c.ConfigurableHTTPProxy.command = [s.proxy_cmd]
c.ConfigurableHTTPProxy.pid_file = str(s.state / "jupyterhub-proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{s.state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(s.state / "jupyterhub_cookie_secret")
# Stopping the hub stops the proxy and every single-user server it started.
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# --- the single-user servers: JupyterLab as each user, in their home, with the course's Python.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [s.python, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
# Nothing of root's environment (virtualenv, PYTHONPATH) leaks into a user's server.
c.Spawner.env_keep = ["LANG", "LC_ALL"]
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90


def course_environment(spawner):
    """Role-dependent settings: which nbgrader extensions, the exchange, the instructor's course folder."""
    spawner.environment = {**spawner.environment, **s.user_environment(spawner.user.name)}


c.Spawner.pre_spawn_hook = course_environment

# --- an API token for scripts (tests/test_hub.py): start/stop servers and list users, nothing else.
if s.api_token:
    c.JupyterHub.services = [{"name": "course-ops", "api_token": s.api_token}]
    c.JupyterHub.load_roles = [{
        "name": "course-ops",
        "scopes": ["admin:servers", "list:users", "read:users", "access:servers", "tokens"],
        "services": ["course-ops"],
    }]
