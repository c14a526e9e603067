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


def _selector(ref, key_field):
    out = {"name": ref["name"], key_field: ref["key"]}
    if "optional" in ref:
        out["optional"] = ref["optional"]
    return out


def _env(c):
    """envConfig as caas/kubernetes/provider/specs/container_env.go turns it into env and
    envFrom (a secret or config map without a key is imported whole), sorted by name."""
    env, env_from = [], []
    for k, v in (c.get("envConfig") or {}).items():
        if not isinstance(v, dict):
            text = ("true" if v else "false") if isinstance(v, bool) else str(v)
            env.append({"name": k, "value": text})
        elif (v.get("field") or {}).get("path"):
            ref = {"fieldPath": v["field"]["path"]}
            if v["field"].get("api-version"):
                ref["apiVersion"] = v["field"]["api-version"]
            env.append({"name": k, "valueFrom": {"fieldRef": ref}})
        elif (v.get("resource") or {}).get("resource"):
            r = v["resource"]
            ref = {"resource": r["resource"]}
            if r.get("container-name"):
                ref["containerName"] = r["container-name"]
            if r.get("divisor") is not None:
                ref["divisor"] = r["divisor"]
            env.append({"name": k, "valueFrom": {"resourceFieldRef": ref}})
        else:
            kind, ref = ("secret", v["secret"]) if v.get("secret") else \
                ("configMap", v["config-map"])
            if ref.get("key"):
                env.append({"name": k, "valueFrom": {
                    kind + "KeyRef": _selector(ref, "key")}})
            else:
                source = {"name": ref["name"]}
                if "optional" in ref:
                    source["optional"] = ref["optional"]
                env_from.append({kind + "Ref": source})
    env.sort(key=lambda e: e["name"])
    env_from.sort(key=lambda e: next(iter(e.values()))["name"])
    return env, env_from


# caas/kubernetes/provider/k8s.go, ensureJujuInitContainer: every workload pod gets Juju's
# init container, which copies the agent into an emptyDir that every container mounts.
JUJU_DATA_DIR = "/var/lib/juju"
JUJU_DATA_VOLUME = "juju-data-dir"
JUJU_RUN = "/usr/bin/juju-run"
JUJU_INIT_SCRIPT = """export JUJU_DATA_DIR=%s
export JUJU_TOOLS_DIR=$JUJU_DATA_DIR/tools

mkdir -p $JUJU_TOOLS_DIR
cp /opt/jujud $JUJU_TOOLS_DIR/jujud

initCmd=$($JUJU_TOOLS_DIR/jujud help commands | grep caas-unit-init)
if test -n "$initCmd"; then
exec $JUJU_TOOLS_DIR/jujud caas-unit-init --debug --wait;
else
exit 0
fi""" % JUJU_DATA_DIR


def _juju_init_container(operator_image):
    return {"name": "juju-pod-init", "image": operator_image,
            "imagePullPolicy": "IfNotPresent", "workingDir": JUJU_DATA_DIR,
            "command": ["/bin/sh"], "args": ["-c", JUJU_INIT_SCRIPT],
            "volumeMounts": [{"name": JUJU_DATA_VOLUME, "mountPath": JUJU_DATA_DIR}]}


def _juju_mounts():
    return [{"name": JUJU_DATA_VOLUME, "mountPath": JUJU_DATA_DIR},
            {"name": JUJU_DATA_VOLUME, "mountPath": JUJU_RUN, "subPath": "tools/jujud"}]


def _key(path):
    return SAFE.sub("-", path.strip("/")) or "file"


def _volume(app, vol, configmaps):
    """The pod volume of a file set (caas/specs/filesets.go); containers naming the same file
    set share it."""
    name = vol["name"]
    if vol.get("files"):
        cm = "%s-%s-config" % (app, name)
        configmaps.append({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": cm, "labels": _labels(app)},
                           "data": {_key(f["path"]): f.get("content", "")
                                    for f in vol["files"]}})
        items = [{"key": _key(f["path"]), "path": f["path"],
                  **({"mode": f["mode"]} if "mode" in f else {})} for f in vol["files"]]
        return {"name": name, "configMap": {"name": cm, "items": items}}
    for kind, ref_field in (("configMap", "name"), ("secret", "secretName")):
        if vol.get(kind) is not None:
            src = vol[kind]
            kv = {ref_field: src["name"]}
            if "defaultMode" in src:
                kv["defaultMode"] = src["defaultMode"]
            if src.get("files"):
                kv["items"] = [dict(f) for f in src["files"]]
            return {"name": name, kind: kv}
    if vol.get("emptyDir") is not None:
        return {"name": name, "emptyDir": dict(vol["emptyDir"])}
    return {"name": name, "hostPath": dict(vol["hostPath"])}


def render_objects(model, app, spec, storage, scale, kind, operator_image="jujud-operator:2.9",
                   charm_modified_version=0):
    objs, volumes, configmaps = [], [], []
    containers, init_containers = [], []
    for c in spec["containers"]:
        details = c.get("imageDetails") or {}
        kc = {"name": c["name"], "image": details.get("imagePath") or c.get("image", ""),
              "imagePullPolicy": c.get("imagePullPolicy") or "IfNotPresent"}
        for k in ("command", "args", "workingDir"):
            if c.get(k):
                kc[k] = c[k]
        if c.get("ports"):
            kc["ports"] = [{"containerPort": p["containerPort"],
                            "protocol": p.get("protocol") or "TCP",
                            **({"name": p["name"]} if p.get("name") else {})}
                           for p in c["ports"]]
        env, env_from = _env(c)
        if env:
            kc["env"] = env
        if env_from:
            kc["envFrom"] = env_from
        mounts = []
        for vol in c.get("volumeConfig") or []:
            mounts.append({"name": vol["name"], "mountPath": vol["mountPath"]})
            if all(v["name"] != vol["name"] for v in volumes):
                volumes.append(_volume(app, vol, configmaps))
        # Storage is mounted in the first workload container only (k8s.go, configureStorage).
        if not c.get("init") and not containers:
            for sname, decl in storage.items():
                if (decl or {}).get("location"):
                    mounts.append({"name": "%s-%s" % (app, sname),
                                   "mountPath": decl["location"]})
        if not c.get("init"):
            mounts += _juju_mounts()
        if mounts:
            kc["volumeMounts"] = mounts
        for p in ("livenessProbe", "readinessProbe", "startupProbe"):
            if (c.get("kubernetes") or {}).get(p):
                kc[p] = _probe(c["kubernetes"][p])
        if (c.get("kubernetes") or {}).get("securityContext"):
            kc["securityContext"] = c["kubernetes"]["securityContext"]
        (init_containers if c.get("init") else containers).append(kc)
    init_containers.append(_juju_init_container(operator_image))
    volumes.append({"name": JUJU_DATA_VOLUME, "emptyDir": {}})
    pod = (spec.get("kubernetesResources") or {}).get("pod") or {}
    pod_spec = {"containers": containers,
                "terminationGracePeriodSeconds": podspec.grace_period(spec)}
    if init_containers:
        pod_spec["initContainers"] = init_containers
    if volumes:
        pod_spec["volumes"] = volumes
    for k in ("dnsPolicy", "restartPolicy", "priorityClassName", "priority",
              "activeDeadlineSeconds", "hostNetwork", "hostPID", "securityContext",
              "readinessGates"):
        if k in pod:
            pod_spec[k] = pod[k]
    if spec.get("serviceAccount"):
        pod_spec["serviceAccountName"] = app
    # k8s.go, podAnnotations: Juju adds its security annotations to every pod; EnsureService
    # the charm-modified version (workloadResourceAnnotations).
    template = {"metadata": {"labels": dict(_labels(app), **(pod.get("labels") or {})),
                             "annotations": dict({"juju.io/controller": "localmodel",
                                     "apparmor.security.beta.kubernetes.io/pod":
                                         "runtime/default",
                                     "seccomp.security.beta.kubernetes.io/pod":
                                         "docker/default",
                                     podspec.CHARM_MODIFIED_VERSION: str(charm_modified_version)},
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
    spec = podspec.of_pods(a)
    objs = render_objects(ctl.model_name, app, spec, ctl.charm(app)["storage"],
                          len([u for u in a["units"].values() if not u.get("dying")]), a["kind"],
                          charm_modified_version=a.get("template-charm-modified-version", 0))
    return yaml.safe_dump_all(objs, default_flow_style=False, sort_keys=False)
