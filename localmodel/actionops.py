"""Actions in the model: queued by ``run-action``, run by the application's uniter worker.

As in Juju 2.9:

- An action is a uniter operation: it runs one at a time with the hooks of its operator (the
  hook lock), and is picked before queued hooks and ``juju-run`` commands, even while the unit
  is in error (worker/uniter/resolver.go: Leadership, then Actions, then Commands, then hooks;
  uniter tests "actions may run from ModeHookError, but do not clear the error").
- Where it runs (worker/uniter/runner/runner.go ``RunAction``): for a Kubernetes model, in the
  unit's **workload pod** (its first container, through the remote executor of
  worker/caasoperator), unless the action's parameters hold ``workload-context: false``, which
  runs it in the operator. The charm directory is copied into the pod and the hook tools
  reach the operator over TCP with a token (``startJujucServer``, ``JUJU_AGENT_TOKEN``).
- ``actions/<name>`` missing: the action fails with ``action not implemented on unit "U"``.
  A non-zero exit fails it with ``exit status N``; ``action-fail`` fails it with its message.
  The uniter adds ``Code``, ``Stdout`` and ``Stderr`` (when not empty) to the results
  (``updateActionResults``).
"""

import io
import os
import tarfile
import time

from localmodel import actions, podexec
from localmodel.hooktools import NAMES
from localmodel.operations import OpError
from localmodel.toolserver import ToolServer

POD_DATA_DIR = "/var/lib/juju"
STATIC_CLIENT = "jujuc-static"


class ActionRunError(Exception):
    """The action could not be started where Juju would run it; the message is Juju's."""


class ActionsMixin:
    """Part of the controller: the action queue, its execution and its records."""

    # ---- queue ----------------------------------------------------------------------------

    def action_specs(self, app):
        path = os.path.join(self.paths.charm(app), "actions.yaml")
        try:
            with open(path) as handle:
                text = handle.read()
        except OSError:
            return {}
        try:
            return actions.parse_actions_yaml(text)
        except actions.ActionsError as e:
            raise OpError("invalid actions.yaml of %s: %s" % (app, e))

    def op_enqueue_action(self, unit, name, params=None):
        """``juju run-action``: validate, insert defaults, queue. Returns the action id."""
        # run-action creates its operation first (apiserver/facades/client/action
        # ``enqueue``: ``EnqueueOperation``, then ``AddAction`` per unit), so even a refused
        # action uses up an id; operations and tasks share the model's "task" sequence
        # (state/operation.go newOperationDoc, state/action.go newActionDoc).
        counters = self.state["counters"]
        counters["task"] = counters.get("task", 0) + 1
        if unit.endswith("/leader"):
            # <app>/leader: the controller resolves the leader before queueing.
            app = self.app(unit.split("/")[0])
            unit = (app or {}).get("leader") or unit
        rec = self.unit(unit)
        if rec is None:
            # TagToActionReceiverFn (apiserver/common): NotFoundf of the receiver's tag.
            raise OpError("unit-%s not found" % unit.replace("/", "-"))
        try:
            payload = actions.prepare(self.action_specs(unit.split("/")[0]), unit, name,
                                      params or {})
        except actions.ActionsError as e:
            raise OpError(str(e))
        counters["task"] += 1
        action_id = str(counters["task"])
        # One order with the hooks and juju-run commands waiting for the lock (uniter._next_job).
        counters["event"] += 1
        self.state.setdefault("actions", {})[action_id] = {
            "id": action_id, "unit": unit, "name": name, "params": payload,
            "status": "pending", "message": "", "results": {}, "log": [],
            "enqueued": time.time(), "seq": counters["event"]}
        self.cond.notify_all()
        return action_id

    def op_show_action(self, action_id):
        record = self.state.get("actions", {}).get(str(action_id))
        if record is None:
            raise OpError('actions for identifier "%s" not found' % action_id)
        return dict(record)

    def next_action(self, unit):
        """The oldest pending action of ``unit``."""
        pending = [r for r in self.state.get("actions", {}).values()
                   if r["status"] == "pending" and r["unit"] == unit]
        return min(pending, key=lambda r: int(r["id"])) if pending else None

    # ---- execution ------------------------------------------------------------------------

    def start_action(self, app, record):
        """Called with the lock held by the worker that picked ``record``."""
        ctx = self._new_context(app, record["unit"], None)
        ctx.action = record
        record["status"] = "running"
        record["started"] = time.time()
        self.busy.add(app)
        self.running_actions = getattr(self, "running_actions", set()) | {record["id"]}
        self.save()
        return ctx

    def _action_env(self, record):
        return {"JUJU_ACTION_NAME": record["name"], "JUJU_ACTION_UUID": record["id"],
                "JUJU_ACTION_TAG": "action-" + record["id"],
                "JUJU_DISPATCH_PATH": "actions/" + record["name"]}

    def execute_action(self, app, ctx, record):
        rc, out, err, error = 0, "", "", None
        script = os.path.join(self.paths.unit_charm(ctx.unit), "actions", record["name"])
        try:
            if not os.path.exists(script):
                raise ActionRunError('action not implemented on unit "%s"' % ctx.unit)
            if record["params"].get("workload-context") is False:
                env = dict(self.hook_env(ctx), **self._action_env(record))
                rc, out, err, _ = self._spawn_in_operator(ctx, [script], env)
            else:
                rc, out, err = self._run_action_in_pod(ctx, record)
        except (ActionRunError, podexec.ExecError, OSError) as e:
            error = str(e)
        except Exception as e:  # the action must end whatever happens
            error = "internal error: %r" % e
        with self.lock:
            self._finish_action(app, ctx, record, rc, out, err, error)

    def _pod_payload(self, unit):
        """A tar stream of what Juju puts in the pod under /var/lib/juju: the unit's charm
        directory and the hook tools (a static client linked under every tool name)."""
        app, num = unit.split("/")
        client = os.path.join(self.paths.tools, STATIC_CLIENT)
        if not os.path.exists(client):
            raise ActionRunError("hook tools for workload containers are not built (a C "
                                 "compiler and libc6-dev are needed: scripts/setup.sh)")
        tools = "tools/unit-%s-%s" % (app, num)
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            tar.add(self.paths.unit_charm(unit), arcname="agents/unit-%s-%s/charm" % (app, num))
            tar.add(client, arcname=tools + "/jujuc")
            for name in NAMES:
                info = tarfile.TarInfo(tools + "/" + name)
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, "jujuc", 0o777
                tar.addfile(info)
        return data.getvalue(), POD_DATA_DIR + "/" + tools

    def _run_action_in_pod(self, ctx, record):
        with self.lock:
            pod = self.unit_pod(ctx.unit)
            if not pod:
                raise ActionRunError('pod for "%s" not found' % ctx.unit)
            prefix, container_env, _ = podexec.target(self.paths, self.state["pods"], pod)
            env = self.workload_env(ctx, container_env)
        payload, tools_dir = self._pod_payload(ctx.unit)
        charm_dir = env["JUJU_CHARM_DIR"]
        enter = prefix[:-1]  # the container's working directory is replaced below
        rc, _, err, _ = self._spawn_captured_input(
            enter + ["/", "/bin/sh", "-c", "rm -rf '%s' '%s' && mkdir -p %s && tar -xf - -C %s"
                     % (charm_dir, tools_dir, POD_DATA_DIR, POD_DATA_DIR)], env, payload)
        if rc != 0:
            raise ActionRunError("cannot copy the charm into pod %s: %s" % (pod, err.strip()))
        server = ToolServer(self, ctx)
        try:
            env.update(self._action_env(record))
            env.update(PATH=tools_dir + ":" + container_env.get("PATH", podexec.PATH),
                       JUJU_AGENT_SOCKET_ADDRESS=server.address,
                       JUJU_AGENT_SOCKET_NETWORK="tcp", JUJU_AGENT_TOKEN=server.token)
            rc, out, err, _ = self._spawn_captured(
                enter + [charm_dir, charm_dir + "/actions/" + record["name"]], env)
        finally:
            server.close()
        return rc, out, err

    @staticmethod
    def _spawn_captured_input(cmd, env, data):
        import subprocess
        r = subprocess.run(cmd, env=env, input=data, capture_output=True, timeout=120)
        return r.returncode, r.stdout.decode(errors="replace"), \
            r.stderr.decode(errors="replace"), 0.0

    def _finish_action(self, app, ctx, record, rc, out, err, error):
        """What the runner's ``Flush`` sends the controller when the action ends."""
        self.busy.discard(app)
        self.contexts.pop(ctx.id, None)
        self.running_actions = getattr(self, "running_actions", set()) - {record["id"]}
        results = dict(ctx.action_results)
        if error is None:
            results["Code"] = str(rc)
            if out:
                results["Stdout"] = out
            if err:
                results["Stderr"] = err
        failed = ctx.action_failed or error is not None or rc != 0
        message = ctx.action_message or error or ("exit status %d" % rc if rc else "")
        record.update(status="failed" if failed else "completed", message=message,
                      results=results, completed=time.time())
        if out.strip():
            self.unit_log(ctx.unit, "DEBUG", record["name"], out)
        if err.strip():
            self.unit_log(ctx.unit, "WARNING", record["name"], err)
        self.log("INFO", "juju.worker.uniter.operation",
                 'ran "%s" action (id %s): %s' % (record["name"], record["id"], record["status"]),
                 unit=ctx.unit)
        if error is None and rc == 0 and self.unit(ctx.unit):
            self._commit(ctx)
        self.save()
        self.cond.notify_all()
