"""The model status in the shape of ``juju status --format=json``, plus pods and relations."""

from localmodel.uniter import JUJU_VERSION


def status_dict(ctl):
    apps = {}
    for app, a in sorted(ctl.state["applications"].items()):
        units = {}
        for u, r in sorted(a["units"].items(), key=lambda x: x[1]["number"]):
            # The unit's pod is the one its provider id names (Juju links them so).
            pod = ctl.state["pods"].get(r.get("provider-id") or "")
            agent = dict(r["agent"])
            if r.get("dying") and agent["status"] != "error":
                agent = {"status": "executing" if u in ctl.current else "idle",
                         "message": "unit is dying"}
            entry = {"workload-status": {"current": r["workload"]["status"],
                                         "message": r["workload"]["message"]},
                     "juju-status": {"current": agent["status"], "message": agent["message"],
                                     "version": JUJU_VERSION},
                     "leader": a.get("leader") == u,
                     "address": pod["address"] if pod and not pod["terminating"] else "",
                     "life": "dying" if r.get("dying") else "alive"}
            if r.get("provider-id"):
                entry["provider-id"] = r["provider-id"]
            units[u] = entry
        st = ctl.application_status(app)
        rels = {}
        for rel in ctl.relations_of(app):
            rels.setdefault(ctl.local_endpoint(rel, app), []).append(ctl.remote_app(rel, app))
        apps[app] = {"charm": a["charm"], "charm-name": a["charm"], "charm-rev": a["charm-rev"],
                     "series": "kubernetes", "os": "kubernetes", "scale": a["scale"],
                     "kind": a["kind"], "address": a["service-address"],
                     "provider-id": app, "version": a.get("version", ""),
                     "life": "dying" if a.get("dying") else "alive",
                     "application-status": {"current": st["status"], "message": st["message"]},
                     "relations": rels, "units": units}
    pods = {}
    for name, p in sorted(ctl.state["pods"].items()):
        st = ctl.pod_status(name)
        phase = "Terminating" if p["terminating"] else st.get("phase", "Pending")
        pods[name] = {"application": p["app"], "phase": phase,
                      "ready": bool(st.get("ready")) and not p["terminating"],
                      "address": p["address"], "spec-hash": p["hash"],
                      "containers": {c: {"state": s.get("state"), "ready": s.get("ready", False),
                                         "restarts": s.get("restarts", 0),
                                         "reason": s.get("reason", ""),
                                         "last-exit-code": _exit_code(s.get("exit-code"))}
                                     for c, s in st.get("containers", {}).items()}}
    rels = [{"id": r["id"], "key": r["key"], "interface": r["interface"],
             "scope": "global", "peer": r.get("peer", False),
             "endpoints": ["%s:%s" % (e["app"], e["endpoint"]) for e in r["endpoints"]]}
            for r in sorted(ctl.state["relations"].values(), key=lambda r: r["id"])]
    m = ctl.state["model"]
    return {"model": {"name": m["name"], "type": "caas", "controller": "localmodel",
                      "cloud": "localmodel", "region": "localhost", "version": JUJU_VERSION,
                      "model-status": {"current": "available", "message": ""},
                      "subnet": m["subnet"], "update-status-interval": m[
                          "update-status-interval"],
                      "cluster-domain": ctl.cluster_domain,
                      "volume-sync-delay": ctl.volume_sync_delay,
                      "operator-python": m.get("operator-python"),
                      "partitions": list(ctl.state.get("partitions", []))},
            "applications": apps, "pods": pods, "relations": rels}


def _exit_code(code):
    """A container's last exit status as Kubernetes reports it (``lastState.terminated.exitCode``:
    128 + the signal for a process a signal ended), None before it ever ended."""
    if code is None:
        return None
    return 128 - code if code < 0 else code
