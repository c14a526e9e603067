"""Hook queues and execution: one worker per application operator, like Juju's uniters.

Hooks of one operator run one at a time (Juju's hook lock), so units sharing the charm
directory never race on it. A failed hook stays at the head of its unit's queue and is retried
with exponential backoff; the unit shows ``error`` meanwhile.
"""

import os
import subprocess
import tempfile
import threading
import time

from localmodel import debuglog, podexec, podspec
from localmodel.context import Context
from localmodel.archive import install_charm, replace_charm

JUJU_VERSION = "2.9.44"
MAX_RETRY_DELAY = 300


class UniterMixin:
    """Part of the controller: queues, hook contexts, hook execution and commit."""

    # ---- queueing -------------------------------------------------------------------------

    def enqueue(self, unit, hook, rid=None, remote_unit=None, remote_app=None, departing=None):
        rec = self.unit(unit)
        if rec is None:
            return
        ev = {"hook": hook, "relation-id": rid, "remote-unit": remote_unit,
              "remote-app": remote_app, "departing-unit": departing}
        # A unit departs from another only once, whichever of the two is leaving.
        keys = ("hook", "relation-id", "remote-unit") if hook == "relation-departed" else ev
        for i, queued in enumerate(rec["queue"]):
            if i == 0 and (self.running_event(unit) or rec.get("error")):
                continue
            if all(queued.get(k) == ev[k] for k in keys):
                return
        self.state["counters"]["event"] += 1
        ev["seq"] = self.state["counters"]["event"]
        rec["queue"].append(ev)
        self.cond.notify_all()

    def running_event(self, unit):
        return self.current.get(unit)

    def hook_name(self, ev):
        if ev["relation-id"] is not None and ev["hook"].startswith("relation-"):
            rel = self.relation(ev["relation-id"])
            ep = self.local_endpoint(rel, ev["unit"].split("/")[0]) if rel else "unknown"
            return "%s-%s" % (ep, ev["hook"])
        return ev["hook"]

    # ---- worker ---------------------------------------------------------------------------

    def start_worker(self, app):
        if app in self.workers and self.workers[app].is_alive():
            return
        t = threading.Thread(target=self._worker, args=(app,), name="uniter-" + app,
                             daemon=True)
        self.workers[app] = t
        t.start()

    def _next_job(self, app):
        a = self.state["applications"].get(app)
        if a is None or a.get("upgrading") or not self.operator_ready(app):
            return None
        # Each unit's uniter picks its own next operation (resolver.go NextOp: actions, then
        # juju-run commands, then hooks) and then waits for the operator's hook lock: the unit
        # waiting longest goes first, whichever kind of operation it runs. An action or a
        # juju-run for one unit does not overtake the hooks the other units were already
        # waiting with. An action runs while its unit is in error (its hook is held back).
        now = time.time()
        runs = self.run_requests.get(app) or []
        best = None  # (waiting since, kind, item)
        for unit, rec in a["units"].items():
            if rec.get("deployed-charm-rev") != a["charm-rev"]:
                continue
            action = self.next_action(unit)
            run = next((item for item in runs if item["unit"] == unit), None)
            err = rec.get("error")
            head = rec["queue"][0] if rec["queue"] and not (err and err["next-at"] > now) \
                else None
            waiting = [item for item in (action, run, head) if item is not None]
            if not waiting:
                continue
            since = min(item.get("seq", 0) for item in waiting)
            if best is None or since < best[0]:
                if action is not None:
                    best = (since, "action", action)
                elif run is not None:
                    best = (since, "run", run)
                else:
                    head["unit"] = unit
                    best = (since, "hook", head)
        for item in runs:  # a unit no longer in the model: its run fails in the executor
            if self.unit(item["unit"]) is None and (best is None or item["seq"] < best[0]):
                best = (item["seq"], "run", item)
        if best is None:
            return None
        if best[1] == "run":
            runs.remove(best[2])
        return (best[1], best[2])

    def _worker(self, app):
        while not self.stopping.is_set():
            with self.lock:
                if app not in self.state["applications"]:
                    self.workers.pop(app, None)
                    return
                for unit in self._undeployed_units(app):
                    self._start_unpack(app, unit)
                job = self._next_job(app)
                if job is None:
                    self.cond.wait(0.5)
                    continue
                kind, item = job
                ctx = self._start_job(app, kind, item)
            try:
                if kind == "action":
                    self.execute_action(app, ctx, item)
                elif kind == "run":
                    self._execute_run(app, ctx, item)
                else:
                    self._execute_hook(app, ctx, item)
            except Exception as e:  # a worker must outlive any bug in one job
                with self.lock:
                    self.log("ERROR", "localmodel.uniter", "%s of %s failed: %r"
                             % (ctx.hook or "run", ctx.unit, e))
                    self.busy.discard(app)
                    self.current.pop(ctx.unit, None)
                    self.contexts.pop(ctx.id, None)
                    if kind == "run" and "result" not in item:
                        item["result"] = (1, "", "ERROR %s\n" % e)
                        self.runs_in_flight -= 1
                    self.cond.notify_all()
                time.sleep(0.5)

    def _start_job(self, app, kind, item):
        if kind == "action":
            return self.start_action(app, item)
        if kind == "run":
            self.runs_in_flight += 1
            return self._new_context(app, item["unit"], None)
        self.current[item["unit"]] = item
        self.busy.add(app)
        return self._prepare_hook(item)

    def _undeployed_units(self, app):
        """The units whose directory lacks the application's current charm and that are not
        unpacking it already."""
        a = self.state["applications"][app]
        if a.get("upgrading") or not self.operator_ready(app):
            return []
        unpacking = self.unpacking.get(app, set())
        return [unit for unit, rec in sorted(a["units"].items())
                if rec.get("deployed-charm-rev") != a["charm-rev"] and unit not in unpacking]

    def _start_unpack(self, app, unit):
        """Each unit's uniter deploys its charm on its own, while the other units of the
        operator run their hooks (Juju: one uniter goroutine per unit in the operator)."""
        self.unpacking.setdefault(app, set()).add(unit)
        revision = self.state["applications"][app]["charm-rev"]
        threading.Thread(target=self._deploy_charm, args=(app, unit, revision),
                         name="unpack-" + unit, daemon=True).start()

    def _deploy_charm(self, app, unit, revision):
        """The uniter's deploy operation (worker/uniter/operation/deploy.go, install or upgrade):
        unpack the controller's copy of the charm into the unit's directory, keeping the files
        the unit's hooks wrote there. Juju runs it without the machine lock
        (``DoesNotRequireMachineLock``); here it runs without the model lock, so other
        applications' hooks, the other units' hooks and tool calls go on meanwhile. A failed
        unpack is logged and tried again."""
        target = self.paths.unit_charm(unit)
        deployed = False
        try:
            if os.path.isdir(target):
                replace_charm(self.paths.charm(app), target)
            else:
                install_charm(self.paths.charm(app), target)
            deployed = True
        except OSError as e:
            with self.lock:
                if self.unit(unit) is not None:  # a removed unit's directory went with it
                    self.log("ERROR", "juju.worker.uniter", "cannot deploy charm: %r" % e,
                             unit=unit)
            time.sleep(0.5)
        finally:
            with self.lock:
                self.unpacking.get(app, set()).discard(unit)
                rec = self.unit(unit)
                # A restart-operator may have removed the directory since the copy ended.
                if deployed and rec is not None and os.path.isdir(target):
                    rec["deployed-charm-rev"] = revision
                    self.save()
                self.cond.notify_all()

    def _new_context(self, app, unit, hook, **kw):
        self.context_seq += 1
        cid = "%s-%s-%d" % (unit, hook or "run-commands", self.context_seq)
        ctx = Context(cid, app, unit, hook, **kw)
        self.contexts[cid] = ctx
        return ctx

    def _prepare_hook(self, ev):
        unit = ev["unit"]
        app = unit.split("/")[0]
        rec = self.unit(unit)
        rid = ev["relation-id"]
        if ev["hook"] == "relation-joined" and ev["remote-unit"]:
            joined = rec["joined"].setdefault(str(rid), [])
            if ev["remote-unit"] not in joined:
                joined.append(ev["remote-unit"])
        if ev["hook"] == "relation-departed" and ev["remote-unit"]:
            joined = rec["joined"].get(str(rid), [])
            if ev["remote-unit"] in joined:
                joined.remove(ev["remote-unit"])
        name = self.hook_name(ev)
        rec["agent"] = {"status": "executing", "message": "running %s hook" % name}
        return self._new_context(app, unit, name, relation_id=rid,
                                 remote_unit=ev["remote-unit"], remote_app=ev["remote-app"],
                                 departing=ev["departing-unit"])

    # ---- execution ------------------------------------------------------------------------

    def hook_env(self, ctx):
        charm_dir = self.paths.unit_charm(ctx.unit)
        env = {
            "PATH": "%s:%s:/usr/sbin:/usr/bin:/sbin:/bin" % (self.paths.tools,
                                                            self.paths.operator_bin),
            "HOME": "/root", "LANG": "C.UTF-8",
            "JUJU_UNIT_NAME": ctx.unit, "JUJU_CHARM_DIR": charm_dir,
            "CHARM_DIR": charm_dir, "JUJU_MODEL_NAME": self.model_name,
            "JUJU_MODEL_UUID": self.model_uuid, "JUJU_CONTEXT_ID": ctx.id,
            # HookVars sets it in every context: empty for juju-run (no hook).
            "JUJU_HOOK_NAME": ctx.hook or "",
            "JUJU_AGENT_SOCKET": self.paths.socket, "JUJU_VERSION": JUJU_VERSION,
            "JUJU_AGENT_SOCKET_ADDRESS": self.paths.socket, "JUJU_AGENT_SOCKET_NETWORK": "unix",
            "JUJU_PRINCIPAL_UNIT": "", "JUJU_AVAILABILITY_ZONE": "",
            "JUJU_API_ADDRESSES": "", "JUJU_METER_STATUS": "NOT SET",
            "KUBERNETES_SERVICE_HOST": "", "JUJU_SLA": "unsupported",
            "LOCALMODEL_OWNER": self.paths.home,
        }
        if ctx.relation_id is not None:
            rel = self.relation(ctx.relation_id)
            ep = self.local_endpoint(rel, ctx.app) if rel else ""
            env["JUJU_RELATION"] = ep
            env["JUJU_RELATION_ID"] = "%s:%d" % (ep, ctx.relation_id)
            env["JUJU_REMOTE_APP"] = ctx.remote_app or ""
            env["JUJU_REMOTE_UNIT"] = ctx.remote_unit or ""
        if ctx.departing:
            env["JUJU_DEPARTING_UNIT"] = ctx.departing
        for suffix in ("-storage-attached", "-storage-detaching"):
            if (ctx.hook or "").endswith(suffix):
                env["JUJU_STORAGE_ID"] = "%s/%s" % (ctx.hook[:-len(suffix)],
                                                    ctx.unit.split("/")[1])
        return env

    def _spawn_in_operator(self, ctx, argv, env):
        """Run ``argv`` inside the operator's namespaces, in the unit's charm directory;
        returns ``(rc, out, err, secs)``."""
        op = self.state["applications"][ctx.app]["operator"]
        cmd = ["nsenter", "-t", str(op["pid"]), "-m", "-p", "-u",
               "--wd=" + self.paths.unit_charm(ctx.unit), "--"] + argv
        return self._spawn_captured(cmd, env)

    @staticmethod
    def _spawn_captured(cmd, env, timeout=None):
        # Files, not pipes: a daemon a hook leaves behind must not hold the hook open.
        with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
            t0 = time.time()
            try:
                rc = subprocess.call(cmd, env=env, stdin=subprocess.DEVNULL, stdout=fo,
                                     stderr=fe, start_new_session=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                rc = 124
                fe.write(b"ERROR timed out\n")
            secs = time.time() - t0
            fo.seek(0)
            fe.seek(0)
            return rc, fo.read().decode(errors="replace"), fe.read().decode(errors="replace"), \
                secs

    def _execute_hook(self, app, ctx, ev):
        path = os.path.join(self.paths.unit_charm(ctx.unit), "hooks", ctx.hook)
        rc, out, err, secs = 0, "", "", 0.0
        if os.access(path, os.X_OK):
            try:
                rc, out, err, secs = self._spawn_in_operator(ctx, [path], self.hook_env(ctx))
            except OSError as e:
                rc, err = 1, "cannot run hook: %s\n" % e
            with self.lock:
                self.state["hook-durations"] = (self.state["hook-durations"] + [secs])[-500:]
                # Named records, so benchmarks can tell a slow install from a slow update-status.
                self.state["hook-runs"] = (self.state.get("hook-runs", []) +
                                           [[ctx.hook, ctx.unit, round(secs, 4),
                                             dict(ctx.tool_calls)]])[-1000:]
        elif os.path.exists(path):
            rc, err = 1, "fork/exec %s: permission denied\n" % path
        else:
            ctx.missing = True
        with self.lock:
            self.busy.discard(app)
            self.current.pop(ctx.unit, None)
            self.contexts.pop(ctx.id, None)
            if out.strip():
                self.unit_log(ctx.unit, "DEBUG", ctx.hook, out)
            if err.strip():
                self.unit_log(ctx.unit, "WARNING", ctx.hook, err)
            rec = self.unit(ctx.unit)
            if rec is None:
                return
            if rc == 0:
                self._hook_succeeded(ctx, ev, rec)
            else:
                self._hook_failed(ctx, ev, rec, rc)
            self.save()
            self.cond.notify_all()

    def _hook_failed(self, ctx, ev, rec, rc):
        err = rec.get("error") or {"retries": 0}
        delay = min(self.retry_delay * (2 ** err["retries"]), MAX_RETRY_DELAY)
        rec["error"] = {"hook": ctx.hook, "retries": err["retries"] + 1,
                        "next-at": time.time() + delay}
        rec["agent"] = {"status": "error", "message": 'hook failed: "%s"' % ctx.hook}
        self.log("ERROR", "juju.worker.uniter.operation",
                 'hook "%s" (via explicit, bespoke hook script) failed: exit status %d'
                 % (ctx.hook, rc), unit=ctx.unit)

    def _hook_succeeded(self, ctx, ev, rec):
        self.log("INFO", "juju.worker.uniter.operation",
                 ('skipped "%s" hook (missing)' if ctx.missing else
                  'ran "%s" hook (via explicit, bespoke hook script)') % ctx.hook, unit=ctx.unit)
        if rec["queue"] and rec["queue"][0]["seq"] == ev["seq"]:
            rec["queue"].pop(0)
        rec.pop("error", None)
        rec["agent"] = {"status": "idle", "message": ""}
        self._commit(ctx)
        hook = ev["hook"]
        if hook == "install" and rec["workload"]["message"] == "installing agent":
            rec["workload"] = {"status": "unknown", "message": ""}
        if hook == "start":
            rec["started"] = True
            rec["next-update-status"] = time.time() + self.update_status_interval
        if hook == "update-status":
            rec["next-update-status"] = time.time() + self.update_status_interval
        if hook == "relation-broken":
            self._maybe_drop_relation(ev["relation-id"])
        if hook == "remove":
            self._unit_removed(ctx.unit)

    def _commit(self, ctx):
        for rid, scopes in ctx.relation_sets.items():
            rel = self.relation(rid)
            if rel is None:
                continue
            if scopes["unit"]:
                data = rel["data"]["units"].setdefault(ctx.unit, {})
                if self._merge(data, scopes["unit"]):
                    self._notify_unit_change(rel, ctx.unit)
            if scopes["app"]:
                data = rel["data"]["apps"].setdefault(ctx.app, {})
                if self._merge(data, scopes["app"]):
                    self._notify_app_change(rel, ctx.app, ctx.unit)
        app = self.app(ctx.app)
        if app is None:
            return
        if ctx.pod_spec is not None:
            text, res = ctx.pod_spec
            spec = podspec.parse(text, res)
            app["pod-spec-text"] = text
            app["k8s-resources-text"] = res
            if app.get("spec") != spec:
                app["spec"] = spec
                # Juju's ensureStatefulSet updates an existing StatefulSet's containers, service
                # account and template annotations only: the other pod-level fields stay as it
                # was created with them.
                if app["kind"] != "StatefulSet" or "pod-fields" not in app:
                    app["pod-fields"] = podspec.pod_fields(spec)
                else:
                    app["pod-fields"] = podspec.with_annotations_of(app["pod-fields"], spec)
            self._ensure_service(ctx.app, app)
        elif ctx.hook == "upgrade-charm" and app.get("leader") == ctx.unit:
            # The leader's upgrade-charm commits a pod spec change even when it set none
            # (context.go, addCommitHookChangesForCAAS: "either set k8s spec or increment
            # upgrade-counter"), so the provisioner ensures the service again.
            self._ensure_service(ctx.app, app)
        if ctx.raw_spec is not None:
            app["raw-spec"] = ctx.raw_spec
        if ctx.version is not None:
            app["version"] = ctx.version

    def _ensure_service(self, name, app):
        """Juju's unit provisioner on a change of the application's pod spec document: the
        broker's EnsureService with the last spec and the application's current charm-modified
        version, which it writes as a pod template annotation (k8s.go). A new template (spec or
        version) rolls the pods."""
        if not app.get("spec"):
            return
        version = app.get("charm-modified-version", 0)
        template = podspec.spec_hash(podspec.as_created(app["spec"], app["pod-fields"]), version)
        app["template-charm-modified-version"] = version
        if template != app.get("spec-hash"):
            app["spec-hash"] = template
            self.log("INFO", "juju.kubernetes.provider",
                     "pod spec for %s updated (%s, charm-modified-version %d)"
                     % (name, template, version))

    @staticmethod
    def _merge(data, changes):
        changed = False
        for k, v in changes.items():
            if v == "":
                changed |= data.pop(k, None) is not None
            elif data.get(k) != v:
                data[k] = v
                changed = True
        return changed

    def _notify_unit_change(self, rel, unit):
        for other in self.relation_units(rel):
            if other == unit:
                continue
            orec = self.unit(other)
            if unit in orec["joined"].get(str(rel["id"]), []):
                self.enqueue(other, "relation-changed", rel["id"], unit, unit.split("/")[0])

    def _notify_app_change(self, rel, app, writer):
        # Each unit's relation-units watcher follows its counterpart applications' settings;
        # on a peer relation that is the unit's own application, so every unit, the leader that
        # wrote them included, runs relation-changed (state/relationunit.go,
        # counterpartApplicationSettingsKeys; juju/juju#20178 shows it on a single unit).
        for other in self.relation_units(rel):
            if other.split("/")[0] == app and not rel.get("peer"):
                continue
            self.enqueue(other, "relation-changed", rel["id"], None, app)

    # ---- juju-run -------------------------------------------------------------------------

    def unit_pod(self, unit):
        """The pod Juju links to ``unit`` by provider id, or None before it had one."""
        rec = self.unit(unit)
        return rec.get("provider-id") if rec else None

    def unit_pod_address(self, unit):
        """The address of the pod linked to ``unit`` (Juju's cloud container address), or None
        while it has no pod or the pod has no address."""
        pod = self.unit_pod(unit)
        rec = self.state["pods"].get(pod) if pod else None
        return rec.get("address") if rec else None

    def workload_env(self, ctx, container_env):
        """The environment of a juju-run in the unit's pod: the container's own, plus the hook
        context (HookVars with remote paths). The charm directory is where Juju copies it in
        the pod; the hook tools are not there (see the README's Limits)."""
        env = dict(container_env)
        for key, value in self.hook_env(ctx).items():
            if key not in ("PATH", "HOME", "LANG") and not key.startswith("JUJU_AGENT_SOCKET"):
                env[key] = value
        app, num = ctx.unit.split("/")
        env["CHARM_DIR"] = env["JUJU_CHARM_DIR"] = \
            "/var/lib/juju/agents/unit-%s-%s/charm" % (app, num)
        return env

    def _run_in_pod(self, ctx, item):
        """juju-run's default location: exec in the unit's pod, first container, as Juju's
        remote executor does (worker/caasoperator/exec.go, caas/kubernetes/provider/exec)."""
        with self.lock:
            pod = self.unit_pod(ctx.unit)
            try:
                if not pod:
                    raise podexec.ExecError('pod for "%s" not found' % ctx.unit)
                prefix, container_env, _ = podexec.target(self.paths, self.state["pods"], pod)
            except podexec.ExecError as e:
                return 1, "", "ERROR %s\n" % e
            env = self.workload_env(ctx, container_env)
        rc, out, err, _ = self._spawn_captured(prefix + ["/bin/sh", "-c", item["command"]], env,
                                               item.get("timeout"))
        return rc, out, err

    def _execute_run(self, app, ctx, item):
        ran = False  # whether Juju would flush the context: the command ran to an exit code
        try:
            if item.get("operator"):
                rc, out, err, _ = self._spawn_in_operator(
                    ctx, ["/bin/bash", "-c", item["command"]], self.hook_env(ctx))
                # Run locally through utils/exec, whose Wait takes a non-zero exit for the
                # command's result, not an error: RunCommands flushes the context either way.
                ran = True
            else:
                rc, out, err = self._run_in_pod(ctx, item)
                ran = rc == 0
        except Exception as e:  # the caller must hear back whatever happens
            rc, out, err = 1, "", "ERROR %s\n" % e
        with self.lock:
            self.contexts.pop(ctx.id, None)
            if ran and self.unit(ctx.unit):
                self._commit(ctx)
                self.save()
            item["result"] = (rc, out, err)
            self.runs_in_flight -= 1
            self.cond.notify_all()

    def run_command(self, unit, command, timeout=None, operator=False, lock_timeout=None):
        """juju-run: queue ``command`` in ``unit``'s hook context and wait for its result.

        Like Juju's run-commands operation it takes the operator's hook lock: it waits while a
        hook runs. ``lock_timeout`` bounds that wait; ``timeout`` bounds the whole run.
        Returns ``(rc, out, err)``.
        """
        with self.lock:
            if self.unit(unit) is None:
                return 1, "", 'ERROR unit "%s" not found\n' % unit
            app = unit.split("/")[0]
            self.state["counters"]["event"] += 1  # one order with the hooks (_next_job)
            item = {"unit": unit, "command": command, "operator": bool(operator),
                    "timeout": timeout, "seq": self.state["counters"]["event"]}
            self.run_requests.setdefault(app, []).append(item)
            self.cond.notify_all()
            now = time.time()
            deadline = now + timeout if timeout else None
            lock_deadline = now + lock_timeout if lock_timeout else None
            while "result" not in item:
                queued = item in self.run_requests.get(app, [])
                if deadline and time.time() > deadline:
                    if queued:
                        self.run_requests[app].remove(item)
                    return 124, "", "ERROR timed out\n"
                if queued and lock_deadline and time.time() > lock_deadline:
                    self.run_requests[app].remove(item)
                    return 1, "", "ERROR could not acquire lock: cancelled acquiring mutex\n"
                self.cond.wait(0.5)
            return item["result"]

    # ---- logging --------------------------------------------------------------------------

    def unit_log(self, unit, level, module, message):
        debuglog.write(self.paths.debug_log, debuglog.entity(unit), level,
                       "unit.%s.%s" % (unit, module), message)

    def log(self, level, module, message, unit=None):
        debuglog.write(self.paths.debug_log, debuglog.entity(unit) if unit else "controller-0",
                       level, module, message)
