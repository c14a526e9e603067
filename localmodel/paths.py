"""Where a model keeps its files under LOCALMODEL_HOME."""

import os


def home_from_env():
    return os.path.abspath(os.environ.get("LOCALMODEL_HOME") or "./.localmodel")


class Paths:
    """The layout of one model's directory; every file the model writes lives below ``home``."""

    def __init__(self, home):
        self.home = os.path.abspath(home)
        self.state = os.path.join(self.home, "state.json")
        self.run = os.path.join(self.home, "run")
        self.socket = os.path.join(self.run, "controller.sock")
        self.controller_pid = os.path.join(self.run, "controller.pid")
        self.hosts = os.path.join(self.run, "hosts")
        self.nsswitch = os.path.join(self.run, "nsswitch.conf")
        self.resolv = os.path.join(self.run, "resolv.conf")
        self.os_release = os.path.join(self.run, "os-release")
        self.tools = os.path.join(self.home, "tools")
        # The operator image's python3 (operatorpython.py), on the hooks' PATH after the tools.
        self.operator_bin = os.path.join(self.home, "operator-bin")
        # Charms being uploaded, before an operation stores them (same filesystem: renamed).
        self.staging = os.path.join(self.home, "staging")
        self.logs = os.path.join(self.home, "logs")
        self.debug_log = os.path.join(self.logs, "debug.log")
        self.controller_log = os.path.join(self.logs, "controller.log")

    @property
    def marker(self):
        """Environment entry set on every process of this model, so none can go unnoticed."""
        return "LOCALMODEL_OWNER=" + self.home

    def app(self, app):
        return os.path.join(self.home, "apps", app)

    def charm(self, app):
        """The application's charm as the controller stores it (what an operator downloads)."""
        return os.path.join(self.app(app), "charm")

    def units(self, app):
        """The operator's unit directories (``/var/lib/juju/agents`` in the operator pod)."""
        return os.path.join(self.app(app), "units")

    def unit(self, unit):
        app, num = unit.split("/")
        return os.path.join(self.units(app), "unit-%s-%s" % (app, num))

    def unit_charm(self, unit):
        """A unit's own charm directory: Juju gives each unit one since 2.8."""
        return os.path.join(self.unit(unit), "charm")

    def resources(self, app):
        return os.path.join(self.app(app), "resources")

    def volumes(self, app):
        return os.path.join(self.app(app), "volumes")

    def operator_ready(self, app):
        return os.path.join(self.run, "operator-%s.ready" % app)

    def pod(self, pod):
        return os.path.join(self.home, "pods", pod)

    def storage(self, app, name, ordinal):
        return os.path.join(self.home, "storage", app, "%s-%d" % (name, ordinal))

    def service(self, app):
        return os.path.join(self.run, "service-%s.json" % app)

    def makedirs(self):
        for d in (self.home, self.run, self.tools, self.logs):
            os.makedirs(d, exist_ok=True)
