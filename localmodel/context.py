"""A hook (or juju-run) execution context: what Juju buffers until the hook exits 0."""


class Context:
    def __init__(self, cid, app, unit, hook, relation_id=None, remote_unit=None,
                 remote_app=None, departing=None):
        self.id = cid
        self.app = app
        self.unit = unit
        self.hook = hook
        self.relation_id = relation_id
        self.remote_unit = remote_unit
        self.remote_app = remote_app
        self.departing = departing
        self.relation_sets = {}
        self.pod_spec = None
        self.raw_spec = None
        self.version = None
        self.missing = False
        # The action this context runs (its record in the model state), or None: the action
        # tools refuse to run without one. Results and failure are applied when it ends.
        self.action = None
        self.action_results = {}
        self.action_failed = False
        self.action_message = ""
        # Hook tool calls made in this context, by tool: Juju's jujuc server logs each one
        # ("running hook tool %q for %s", DEBUG, worker/uniter/runner/jujuc/server.go), which is
        # how calls are counted on a real model; the model keeps the count with the hook's run.
        self.tool_calls = {}

    def relation_set(self, rid, scope, changes):
        self.relation_sets.setdefault(rid, {"unit": {}, "app": {}})[scope].update(changes)

    def overlay(self, rid, scope, data):
        """``data`` as this hook sees it: settings written by the hook itself applied."""
        for k, v in self.relation_sets.get(rid, {}).get(scope, {}).items():
            if v == "":
                data.pop(k, None)
            else:
                data[k] = v
        return data
