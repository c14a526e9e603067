"""Juju operations on the model state: deploy, config, relate, scale, remove, upgrade...

They only change state and queue hooks, with the controller lock held; the uniter workers run
the hooks and the reconcile loop makes the processes follow.
"""

import hashlib
import os
import shutil
import signal
import time

import yaml

from localmodel import charm as charmlib
from localmodel.archive import (ArchiveError, check_archivable, install_charm, stage_charm,
                                store_charm)
from localmodel import manifests, state as statelib
from localmodel.status import status_dict

class OpError(Exception):
    """A refused operation; the message is shown to the user as Juju would word it."""


class OperationsMixin:
    # ---- model operations -----------------------------------------------------------------

    def _since(self):
        return time.strftime("%d %b %Y %H:%M:%SZ", time.gmtime())

    def _set_resource(self, app, name, value):
        charm = self.charm(app)
        decl = charm["resources"].get(name)
        if decl is None:
            raise OpError('unknown resource "%s" for charm "%s"' % (name, charm["name"]))
        rdir = os.path.join(self.paths.resources(app), name)
        # Juju's upload handler refuses a file whose extension is not the declared filename's
        # (apiserver resources upload: "incorrect extension on resource upload").
        if decl.get("type", "file") != "oci-image" and os.path.isfile(value):
            expected = os.path.splitext(decl.get("filename") or os.path.basename(value))[1]
            if os.path.splitext(value)[1] != expected:
                raise OpError('incorrect extension on resource upload "%s", expected "%s"'
                              % (os.path.basename(value), expected))
        shutil.rmtree(rdir, ignore_errors=True)
        os.makedirs(rdir)
        if decl.get("type", "file") == "oci-image":
            if value.startswith("@"):
                with open(value[1:]) as f:
                    content = f.read()
            else:
                content = yaml.safe_dump({"registrypath": value, "username": "",
                                          "password": ""}, default_flow_style=False)
            path = os.path.join(rdir, "content.yaml")
            statelib.atomic_write(path, content, 0o600)
        else:
            if not os.path.isfile(value):
                raise OpError("file resource %s: %s not found" % (name, value))
            path = os.path.join(rdir, decl.get("filename") or os.path.basename(value))
            shutil.copyfile(value, path)
        self.app(app)["resources"][name] = {"type": decl.get("type", "file"), "path": path}

    def _resource_digest(self, app, name):
        """SHA-256 of a resource's stored content, None when it has none."""
        found = (self.app(app) or {}).get("resources", {}).get(name)
        if not found or not os.path.isfile(found.get("path", "")):
            return None
        with open(found["path"], "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()

    def _new_relation(self, endpoints, peer=False):
        self.state["counters"]["relation"] += 1
        rid = self.state["counters"]["relation"]
        rel = {"id": rid, "endpoints": endpoints, "peer": peer, "since": self._since(),
               "data": {"units": {}, "apps": {}},
               "interface": endpoints[0]["interface"],
               "key": " ".join("%s:%s" % (e["app"], e["endpoint"]) for e in endpoints)}
        self.state["relations"][str(rid)] = rel
        return rel

    def _enter_relation(self, rel, unit):
        """Juju seeds a unit's settings with its addresses when it enters a relation."""
        addr = self.service_address(unit.split("/")[0])
        rel["data"]["units"][unit] = {"private-address": addr, "ingress-address": addr,
                                      "egress-subnets": addr + "/32"}

    def _next_unit_number(self, a):
        """Juju's unit sequence: numbers only grow, a removed unit's number is never reused."""
        used = [r["number"] for r in a["units"].values()]
        number = max([a.get("next-unit", 0)] + [n + 1 for n in used])
        a["next-unit"] = number + 1
        return number

    def _free_ordinal(self, a):
        """The StatefulSet ordinal a new unit's pod gets: the lowest one no live unit holds
        (pods are ``<app>-0..scale-1`` whatever the unit numbers)."""
        held = {r.get("ordinal", r["number"]) for r in a["units"].values() if not r.get("dying")}
        ordinal = 0
        while ordinal in held:
            ordinal += 1
        return ordinal

    def _add_unit(self, app):
        a = self.app(app)
        number = self._next_unit_number(a)
        unit = "%s/%d" % (app, number)
        a["units"][unit] = {"number": number, "ordinal": self._free_ordinal(a), "queue": [],
                            "joined": {}, "since": self._since(),
                            "workload": {"status": "waiting", "message": "installing agent"},
                            "agent": {"status": "allocating", "message": ""}}
        # The unit's uniter unpacks the charm into its own directory (UniterMixin._deploy_charm).
        shutil.rmtree(self.paths.unit(unit), ignore_errors=True)
        os.makedirs(self.paths.unit(unit))
        if not a.get("leader"):
            a["leader"] = unit
        self.enqueue(unit, "install")
        rels = self.relations_of(app)
        for rel in rels:
            self._enter_relation(rel, unit)
            self.enqueue(unit, "relation-created", rel["id"], None, self.remote_app(rel, app))
        self.enqueue(unit, "leader-elected" if a["leader"] == unit else "leader-settings-changed")
        self.enqueue(unit, "config-changed")
        self.enqueue(unit, "start")
        for rel in rels:
            for other in self.counterpart_units(rel, app):
                if other == unit:
                    continue
                self._join(unit, rel, other)
                self._join(other, rel, unit)
        return unit

    def _join(self, unit, rel, remote):
        self.enqueue(unit, "relation-joined", rel["id"], remote, remote.split("/")[0])
        self.enqueue(unit, "relation-changed", rel["id"], remote, remote.split("/")[0])

    def _unit_dying(self, unit):
        rec = self.unit(unit)
        if rec.get("dying"):
            return
        rec["dying"] = True
        app = unit.split("/")[0]
        # What the others have not yet heard of this unit is moot; a departure already queued
        # (remove-relation or remove-application came first) is not: Juju runs it.
        for other_app in self.state["applications"].values():
            for other, orec in other_app["units"].items():
                orec["queue"] = [e for i, e in enumerate(orec["queue"])
                                 if e.get("remote-unit") != unit or
                                 e["hook"] not in ("relation-joined", "relation-changed") or
                                 (i == 0 and (self.current.get(other) or orec.get("error")))]
        rec["queue"] = [e for i, e in enumerate(rec["queue"])
                        if e["hook"] not in ("relation-joined", "relation-changed") or
                        (i == 0 and (self.current.get(unit) or rec.get("error")))]
        for rel in self.relations_of(app):
            for remote in list(rec["joined"].get(str(rel["id"]), [])):
                self.enqueue(unit, "relation-departed", rel["id"], remote,
                             remote.split("/")[0], departing=unit)
            self.enqueue(unit, "relation-broken", rel["id"], None, self.remote_app(rel, app))
            for other in self.relation_units(rel):
                if unit in self.unit(other)["joined"].get(str(rel["id"]), []):
                    self.enqueue(other, "relation-departed", rel["id"], unit, app,
                                 departing=unit)
        if rec.get("storage-attached"):
            for name in sorted(self.charm(app)["storage"]):
                self.enqueue(unit, "%s-storage-detaching" % name)
        self.enqueue(unit, "stop")
        self.enqueue(unit, "remove")

    def _unit_removed(self, unit):
        app = unit.split("/")[0]
        a = self.app(app)
        del a["units"][unit]
        # The operator removes a dead unit's directory (caasoperator.go removeUnitDir).
        shutil.rmtree(self.paths.unit(unit), ignore_errors=True)
        for rel in self.state["relations"].values():
            rel["data"]["units"].pop(unit, None)
        for orec in (r for x in self.state["applications"].values()
                     for r in x["units"].values()):
            for joined in orec["joined"].values():
                if unit in joined:
                    joined.remove(unit)
        self.log("INFO", "juju.state", "unit %s removed" % unit)
        if a.get("leader") == unit:
            alive = sorted((r["number"], u) for u, r in a["units"].items() if not r.get("dying"))
            a["leader"] = alive[0][1] if alive else None
            if a["leader"]:
                self.enqueue(a["leader"], "leader-elected")

    def _maybe_drop_relation(self, rid):
        rel = self.relation(rid)
        if rel is None or not rel.get("dying"):
            return
        for a in self.state["applications"].values():
            for r in a["units"].values():
                if any(e.get("relation-id") == rid for e in r["queue"]):
                    return
        del self.state["relations"][str(rid)]
        for a in self.state["applications"].values():
            for r in a["units"].values():
                r["joined"].pop(str(rid), None)

    def _staged(self, staged, charm_dir):
        """The charm's archive: ``staged`` (copied before the lock) or a copy made now."""
        if staged:
            return staged
        try:
            return stage_charm(charm_dir, self.paths.staging)
        except OSError as e:
            raise OpError("cannot read charm %s: %s" % (charm_dir, e))

    def op_deploy(self, charm_dir, app=None, num_units=1, resources=None, config=None,
                  staged=None):
        charm_dir = os.path.abspath(charm_dir)
        try:
            ch = charmlib.load(charm_dir)
            check_archivable(charm_dir)
        except (charmlib.CharmError, ArchiveError) as e:
            raise OpError(str(e))
        app = app or ch["name"]
        if self.app(app):
            raise OpError('cannot add application "%s": application already exists' % app)
        values = {}
        for k, v in (config or {}).items():
            try:
                values[k] = charmlib.coerce(ch["options"], k, v)
            except charmlib.CharmError as e:
                raise OpError(str(e))
        staged = self._staged(staged, charm_dir)
        shutil.rmtree(self.paths.app(app), ignore_errors=True)
        os.makedirs(self.paths.app(app))
        store_charm(staged, self.paths.charm(app))
        self.charms[app] = ch
        self.state["applications"][app] = {
            "charm": ch["name"], "charm-rev": 0, "charm-source": charm_dir,
            "kind": "StatefulSet" if ch["storage"] else "Deployment", "scale": num_units,
            "config": values, "resources": {}, "leader": None, "leader-settings": {},
            "units": {}, "service-address": self.alloc_service_address(), "version": "",
            "since": self._since()}
        try:
            for name, value in (resources or {}).items():
                self._set_resource(app, name, value)
        except (OpError, OSError) as e:
            del self.state["applications"][app]
            shutil.rmtree(self.paths.app(app), ignore_errors=True)
            raise OpError(str(e))
        for ep, decl in ch["peers"].items():
            self._new_relation([{"app": app, "endpoint": ep, "role": "peer",
                                 "interface": (decl or {}).get("interface")}], peer=True)
        self.start_operator(app)
        for _ in range(num_units):
            self._add_unit(app)
        self.start_worker(app)
        self.log("INFO", "juju.state", "deployed %s as %s (%d units)"
                 % (ch["name"], app, num_units))
        return app

    def op_config(self, app, values=None, reset=None):
        a = self._need_app(app)
        opts = self.charm(app)["options"]
        if not values and not reset:
            return {"application": app, "charm": a["charm"], "settings": {
                k: {"value": self.config(app).get(k), "default": (o or {}).get("default"),
                    "type": (o or {}).get("type", "string"),
                    "description": (o or {}).get("description", ""),
                    "source": "user" if k in a["config"] else "default"}
                for k, o in opts.items()}}
        changes = {}
        for k, v in (values or {}).items():
            try:
                changes[k] = charmlib.coerce(opts, k, v)
            except charmlib.CharmError as e:
                raise OpError(str(e))
        for k in reset or []:
            if k not in opts:
                raise OpError('unknown option "%s"' % k)
        before = self.config(app)
        a["config"].update(changes)
        for k in reset or []:
            a["config"].pop(k, None)
        if self.config(app) != before:
            for u, r in a["units"].items():
                if not r.get("dying"):
                    self.enqueue(u, "config-changed")
        return None

    def _endpoint_arg(self, arg):
        app, _, ep = arg.partition(":")
        self._need_app(app)
        return app, ep or None

    def op_relate(self, a, b):
        (app_a, ep_a), (app_b, ep_b) = self._endpoint_arg(a), self._endpoint_arg(b)
        ca, cb = self.charm(app_a), self.charm(app_b)
        candidates = []
        for role_a, role_b in (("provides", "requires"), ("requires", "provides")):
            for na, da in ca[role_a].items():
                for nb, db in cb[role_b].items():
                    ia, ib = (da or {}).get("interface"), (db or {}).get("interface")
                    if ia == ib and (ep_a in (None, na)) and (ep_b in (None, nb)):
                        candidates.append(((na, role_a, ia), (nb, role_b, ib)))
        if not candidates:
            raise OpError('no relations found')
        if len(candidates) > 1:
            raise OpError('ambiguous relation: "%s %s" could refer to %s' % (a, b, "; ".join(
                '"%s:%s %s:%s"' % (app_a, x[0], app_b, y[0]) for x, y in candidates)))
        (na, ra, ia), (nb, rb, ib) = candidates[0]
        key = {"%s:%s" % (app_a, na), "%s:%s" % (app_b, nb)}
        for rel in self.state["relations"].values():
            if not rel.get("dying") and set(rel["key"].split()) == key:
                raise OpError('cannot add relation "%s": relation %s already exists'
                              % (" ".join(sorted(key)), " ".join(sorted(key))))
        rel = self._new_relation([{"app": app_a, "endpoint": na, "role": ra, "interface": ia},
                                  {"app": app_b, "endpoint": nb, "role": rb, "interface": ib}])
        units_a = [u for u, r in self.app(app_a)["units"].items() if not r.get("dying")]
        units_b = [u for u, r in self.app(app_b)["units"].items() if not r.get("dying")]
        for u in units_a + units_b:
            self._enter_relation(rel, u)
        for mine, theirs, other_app in ((units_a, units_b, app_b), (units_b, units_a, app_a)):
            for u in mine:
                self.enqueue(u, "relation-created", rel["id"], None, other_app)
        for mine, theirs in ((units_a, units_b), (units_b, units_a)):
            for u in mine:
                for t in theirs:
                    self._join(u, rel, t)
        return rel["key"]

    def _find_relation(self, a, b):
        (app_a, ep_a), (app_b, ep_b) = self._endpoint_arg(a), self._endpoint_arg(b)
        for rel in self.state["relations"].values():
            if rel.get("peer") or rel.get("dying"):
                continue
            eps = {e["app"]: e["endpoint"] for e in rel["endpoints"]}
            if app_a in eps and app_b in eps and ep_a in (None, eps[app_a]) and \
                    ep_b in (None, eps[app_b]):
                return rel
        raise OpError('relation "%s %s" not found' % (a, b))

    def _remove_relation(self, rel):
        rel["dying"] = True
        rid = rel["id"]
        for u in self.relation_units(rel):
            rec = self.unit(u)
            app = u.split("/")[0]
            rec["queue"] = [e for i, e in enumerate(rec["queue"])
                            if e.get("relation-id") != rid or e["hook"] not in
                            ("relation-joined", "relation-changed", "relation-created") or
                            (i == 0 and (self.current.get(u) or rec.get("error")))]
            for remote in list(rec["joined"].get(str(rid), [])):
                self.enqueue(u, "relation-departed", rid, remote, remote.split("/")[0],
                             departing=remote)
            self.enqueue(u, "relation-broken", rid, None, self.remote_app(rel, app))
        self._maybe_drop_relation(rid)

    def op_remove_relation(self, a, b):
        self._remove_relation(self._find_relation(a, b))

    def op_scale(self, app, n):
        a = self._need_app(app)
        if n < 0:
            raise OpError("scale must be >= 0")
        if a.get("dying"):
            raise OpError('application "%s" is being removed' % app)
        # On scale-down the StatefulSet removes the highest ordinals; the units whose pods go
        # (linked by provider id) are the ones that die.
        alive = sorted((r.get("ordinal", r["number"]), u) for u, r in a["units"].items()
                       if not r.get("dying"))
        a["scale"] = n
        for _ in range(n - len(alive)):
            self._add_unit(app)
        for _, u in alive[n:][::-1]:
            self._unit_dying(u)

    def op_move_leader(self, app, unit):
        """Not a Juju command: the leadership lease moves to ``unit``, as it does when a lease
        expires (an operator restart, a lost controller connection). The new leader gets
        leader-elected. Only the deposed leader gets leader-settings-changed: Juju's uniter runs
        it on a minion whose last seen leader-settings version is behind, which a leader's always
        is (it never runs the hook while it leads); the other minions are up to date, and a
        leader-set already queued the hook for them (worker/uniter/leadership/resolver.go)."""
        a = self._need_app(app)
        rec = a["units"].get(unit)
        if rec is None or rec.get("dying"):
            raise OpError('unit "%s" not found' % unit)
        deposed = a.get("leader")
        if deposed == unit:
            return
        a["leader"] = unit
        self.enqueue(unit, "leader-elected")
        if deposed in a["units"] and not a["units"][deposed].get("dying"):
            self.enqueue(deposed, "leader-settings-changed")

    def op_restart_operator(self, app):
        """Not a Juju command: what a restart of the operator pod does to a charm of
        min-juju-version >= 2.8, whose operator has no persistent storage.

        Every process in the operator dies and its filesystem (the units' charm directories
        and state files) is lost. The new operator unpacks the charm again for each unit, and
        each uniter, finding its charm directory missing while the controller says the charm is
        installed and started, runs upgrade-charm, then config-changed (see the README).
        """
        a = self._need_app(app)
        if a.get("dying"):
            raise OpError('application "%s" is being removed' % app)
        self.stop_ns(a.get("operator") or {}, signal.SIGKILL)
        shutil.rmtree(self.paths.units(app), ignore_errors=True)
        self.log("WARNING", "juju.worker.caasoperator", "operator for %s restarted" % app)
        self.start_operator(app)
        for unit, rec in sorted(a["units"].items()):
            os.makedirs(self.paths.unit(unit))
            rec.pop("deployed-charm-rev", None)
            if not rec.get("dying") and rec.get("started"):
                self.enqueue(unit, "upgrade-charm")
                self.enqueue(unit, "config-changed")

    def op_remove_application(self, app):
        a = self._need_app(app)
        a["dying"] = True
        a["scale"] = 0
        for rel in list(self.relations_of(app)):
            if not rel.get("peer"):
                self._remove_relation(rel)
        for u in sorted(a["units"], reverse=True):
            self._unit_dying(u)

    def op_attach_resource(self, app, name, value):
        a = self._need_app(app)
        before = self._resource_digest(app, name)
        try:
            self._set_resource(app, name, value)
        except OSError as e:
            raise OpError(str(e))
        # Juju bumps the charm-modified version (which runs upgrade-charm) only when the bytes
        # are new (StagedResource.Activate, hasNewBytes): the same file attached again runs nothing.
        if self._resource_digest(app, name) == before:
            return
        a["charm-modified-version"] = a.get("charm-modified-version", 0) + 1
        for u, r in a["units"].items():
            if not r.get("dying"):
                self.enqueue(u, "upgrade-charm")
                self.enqueue(u, "config-changed")

    def op_upgrade(self, app, charm_dir, staged=None):
        a = self._need_app(app)
        charm_dir = os.path.abspath(charm_dir)
        try:
            charmlib.load(charm_dir)
            check_archivable(charm_dir)
        except (charmlib.CharmError, ArchiveError) as e:
            raise OpError(str(e))
        a["upgrading"] = True
        try:
            # Units' uniters may be unpacking the stored charm (UniterMixin._deploy_charm).
            while app in self.busy or self.unpacking.get(app):
                self.cond.wait(0.5)
            store_charm(self._staged(staged, charm_dir), self.paths.charm(app))
            self.charms.pop(app, None)
            a["charm-rev"] += 1
            a["charm-modified-version"] = a.get("charm-modified-version", 0) + 1
            a["charm-source"] = charm_dir
        finally:
            a["upgrading"] = False
        # Each unit's uniter deploys the new charm in its own directory, keeping what its
        # hooks wrote, before its next operation.
        for u, r in a["units"].items():
            if not r.get("dying"):
                self.enqueue(u, "upgrade-charm")
                self.enqueue(u, "config-changed")
        return a["charm-rev"]

    def _need_app(self, app):
        a = self.app(app)
        if a is None:
            raise OpError('application "%s" not found' % app)
        return a

    def op_pod_spec(self, app):
        a = self._need_app(app)
        return a.get("pod-spec-text") or ""

    def op_manifests(self, app):
        a = self._need_app(app)
        if not a.get("spec"):
            raise OpError('application "%s" has no pod spec yet' % app)
        return manifests.render(self, app)

    def op_kill(self, pod, container=None):
        try:
            self.kill_pod(pod, container)
        except KeyError as e:
            raise OpError("%s not found" % e.args[0])

    def op_delete_pod(self, pod):
        if not self.delete_pod(pod):
            raise OpError('pod "%s" not found' % pod)

    def op_partition(self, pod, heal=False):
        """Not a Juju command: cut ``pod`` off from every other pod (both ways), or heal it.

        The rules follow the pod by name, as a NetworkPolicy follows its pod selector: a pod
        recreated with a new address stays cut off until healed (runtime/network.py).
        """
        partitions = set(self.state.setdefault("partitions", []))
        if heal:
            partitions.discard(pod)
        elif pod not in self.state["pods"]:
            raise OpError('pod "%s" not found' % pod)
        else:
            partitions.add(pod)
        self.state["partitions"] = sorted(partitions)
        if not self._reconcile_network():
            raise OpError("the pod network rules could not be applied: see the debug log")

    def op_settled(self, allow_errors=False):
        for a in self.state["applications"].values():
            if a.get("dying"):
                return False
            for u, r in a["units"].items():
                if u in self.current:
                    return False
                if r["queue"] and not (allow_errors and r.get("error")):
                    return False
                if r.get("deployed-charm-rev") != a["charm-rev"]:
                    return False
        if any(self.run_requests.values()) or self.runs_in_flight:
            return False
        if any(r["status"] in ("pending", "running")
               for r in self.state.get("actions", {}).values() if self.unit(r["unit"])):
            return False
        return self.pods_settled()

    def op_status(self):
        return status_dict(self)

