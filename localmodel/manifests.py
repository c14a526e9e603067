"""The Kubernetes objects Juju 2.9 would create for an application's pod spec."""

import base64
import re

import yaml

from localmodel import podspec

SAFE = re.compile(r"[^-._a-zA-Z0-9]")


def _labels(app):
    return {"app.kubernetes.io/name": app, "app.kubernetes.io/managed-by": "juju"}


def _probe(p):
    out = {k: v for k, v in p.items() if k != "exec"}
    if "exec" in p:
        out["exec"] = {"command": list(p["exec"]["command"])}
    return out


def _env(spec, c):
    env = []
    for k, v in (c.get("envConfig") or {}).items():
        if isinstance(v, dict) and "field" in v:
            env.append({"name": k, "valueFrom": {"fieldRef": {"fieldPath": v["field"]["path"]}}})
        elif isinstance(v, dict) and "secret" in v:
            env.append({"name": k, "valueFrom": {"secretKeyRef": {
                "name": v["secret"]["name"], "key": v["secret"].get("key", "")}}})
        elif isinstance(v, dict) and "config-map" in v:
            env.append({"name": k, "valueFrom": {"configMapKeyRef": {
                "name": v["config-map"]["name"], "key": v["config-map"].get("key", "")}}})
        elif isinstance(v, bool):
            env.append({"name": k, "value": "true" if v else "false"})
        elif isinstance(v, (dict, list)):
            env.append({"name": k, "value": yaml.safe_dump(v, default_flow_style=True).strip()})
        else:
            env.append({"name": k, "value": "" if v is None else str(v)})
    return env


def _key(path):
    return SAFE.sub("-", path.strip("/")) or "file"


def render_objects(model, app, spec, storage, scale, kind):
    objs, volumes, configmaps = [], [], []
    containers, init_containers = [], []
    for c in spec["containers"]:
        details = c.get("imageDetails") or {}
        kc = {"name": c["name"], "image": details.get("imagePath") or c.get("image", ""),
              "imagePullPolicy": c.get("imagePullPolicy", "IfNotPresent")}
        for k in ("command", "args", "workingDir"):
            if c.get(k):
                kc[k] = c[k]
        if c.get("ports"):
            kc["ports"] = [{"containerPort": p["containerPort"],
                            "protocol": p.get("protocol", "TCP"),
                            **({"name": p["name"]} if p.get("name") else {})}
                           for p in c["ports"]]
        env = _env(spec, c)
        if env:
            kc["env"] = env
        mounts = []
        for vol in c.get("volumeConfig") or []:
            vname = "%s-%s" % (c["name"], SAFE.sub("-", vol["name"]))[:63]
            mounts.append({"name": vname, "mountPath": vol["mountPath"]})
            if "files" in vol:
                cm = "%s-%s-config" % (app, vol["name"])
                configmaps.append({"apiVersion": "v1", "kind": "ConfigMap",
                                   "metadata": {"name": cm, "labels": _labels(app)},
                                   "data": {_key(f["path"]): f.get("content", "")
                                            for f in vol["files"]}})
                items = [{"key": _key(f["path"]), "path": f["path"],
                          **({"mode": f["mode"]} if "mode" in f else {})} for f in vol["files"]]
                volumes.append({"name": vname, "configMap": {"name": cm, "items": items}})
                mounts[-1]["readOnly"] = True
            elif "configMap" in vol:
                src = vol["configMap"]
                kv = {"name": src["name"]}
                if "defaultMode" in src:
                    kv["defaultMode"] = src["defaultMode"]
                if src.get("files"):
                    kv["items"] = [dict(f) for f in src["files"]]
                volumes.append({"name": vname, "configMap": kv})
            elif "secret" in vol:
                src = vol["secret"]
                kv = {"secretName": src["name"]}
                if "defaultMode" in src:
                    kv["defaultMode"] = src["defaultMode"]
                if src.get("files"):
                    kv["items"] = [dict(f) for f in src["files"]]
                volumes.append({"name": vname, "secret": kv})
            elif "emptyDir" in vol:
                volumes.append({"name": vname, "emptyDir": dict(vol["emptyDir"] or {})})
            elif "hostPath" in vol:
                volumes.append({"name": vname, "hostPath": dict(vol["hostPath"])})
        for sname, decl in storage.items():
            if (decl or {}).get("location"):
                mounts.append({"name": "%s-%s" % (app, sname), "mountPath": decl["location"]})
        if mounts:
            kc["volumeMounts"] = mounts
        for p in ("livenessProbe", "readinessProbe", "startupProbe"):
            if (c.get("kubernetes") or {}).get(p):
                kc[p] = _probe(c["kubernetes"][p])
        if (c.get("kubernetes") or {}).get("securityContext"):
            kc["securityContext"] = c["kubernetes"]["securityContext"]
        (init_containers if c.get("init") else containers).append(kc)
    pod = (spec.get("kubernetesResources") or {}).get("pod") or {}
    pod_spec = {"containers": containers,
                "terminationGracePeriodSeconds": podspec.grace_period(spec)}
    if init_containers:
        pod_spec["initContainers"] = init_containers
    if volumes:
        pod_spec["volumes"] = volumes
    for k in ("dnsPolicy", "restartPolicy", "priorityClassName", "priority",
              "activeDeadlineSeconds", "hostNetwork", "hostPID", "securityContext"):
        if k in pod:
            pod_spec[k] = pod[k]
    if spec.get("serviceAccount"):
        pod_spec["serviceAccountName"] = app
    template = {"metadata": {"labels": dict(_labels(app), **(pod.get("labels") or {})),
                             "annotations": dict({"juju.io/controller": "localmodel"},
                                                 **(pod.get("annotations") or {}))},
                "spec": pod_spec}
    workload = {"apiVersion": "apps/v1", "kind": kind,
                "metadata": {"name": app, "labels": _labels(app),
                             "annotations": {"juju-app-uuid": "localmodel"}},
                "spec": {"replicas": scale,
                         "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
                         "template": template}}
    if kind == "StatefulSet":
        workload["spec"]["serviceName"] = "%s-endpoints" % app
        workload["spec"]["podManagementPolicy"] = "Parallel"
        workload["spec"]["updateStrategy"] = {"type": "RollingUpdate"}
        claims = []
        for sname, decl in storage.items():
            size = ((decl or {}).get("minimum-size") or "1Gi")
            size = re.sub(r"^(\d+)([MGT])$", r"\1\2i", str(size))
            claims.append({"metadata": {"name": "%s-%s" % (app, sname), "labels": _labels(app)},
                           "spec": {"accessModes": ["ReadWriteOnce"],
                                    "resources": {"requests": {"storage": size}}}})
        if claims:
            workload["spec"]["volumeClaimTemplates"] = claims
    else:
        workload["spec"]["strategy"] = {"type": "RollingUpdate"}
    ports = []
    for c in spec["containers"]:
        for p in c.get("ports") or []:
            name = p.get("name") or "port-%d" % p["containerPort"]
            if all(x["port"] != p["containerPort"] for x in ports):
                ports.append({"name": name, "port": p["containerPort"],
                              "targetPort": p["containerPort"],
                              "protocol": p.get("protocol", "TCP")})
    svc_meta = spec.get("service") or {}
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": app, "labels": _labels(app),
                            "annotations": dict(svc_meta.get("annotations") or {})},
               "spec": {"type": "ClusterIP", "selector": {"app.kubernetes.io/name": app},
                        "ports": ports}}
    headless = {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "%s-endpoints" % app, "labels": _labels(app)},
                "spec": {"clusterIP": "None", "publishNotReadyAddresses": True,
                         "selector": {"app.kubernetes.io/name": app}, "ports": ports}}
    if not ports:
        del service["spec"]["ports"], headless["spec"]["ports"]
    secrets = []
    for s in (spec.get("kubernetesResources") or {}).get("secrets") or []:
        obj = {"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": s["name"], "labels": dict(_labels(app),
                                                              **(s.get("labels") or {}))},
               "type": s.get("type", "Opaque")}
        if s.get("annotations"):
            obj["metadata"]["annotations"] = s["annotations"]
        if s.get("data"):
            obj["data"] = dict(s["data"])
        if s.get("stringData"):
            obj["data"] = dict(obj.get("data", {}), **{
                k: base64.b64encode(str(v).encode()).decode()
                for k, v in s["stringData"].items()})
        secrets.append(obj)
    for name, data in (spec.get("configMaps") or {}).items():
        configmaps.append({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": name, "labels": _labels(app)},
                           "data": {k: str(v) for k, v in data.items()}})
    objs = [workload, service, headless] + configmaps + secrets
    return objs


def render(ctl, app):
    a = ctl.app(app)
    objs = render_objects(ctl.model_name, app, a["spec"], ctl.charm(app)["storage"],
                          len([u for u in a["units"].values() if not u.get("dying")]), a["kind"])
    return yaml.safe_dump_all(objs, default_flow_style=False, sort_keys=False)
