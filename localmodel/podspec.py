"""Parsing and strict validation of Juju podspec versions 2 and 3.

Messages follow Juju's: unknown keys are reported as ``json: unknown field "<key>"`` (Juju decodes
specs strictly), missing parts with the wording of Juju's ``caas/specs`` validators.
"""

import base64
import hashlib
import json

import yaml


class SpecError(Exception):
    pass


ANY = object()
SCALAR = (str, int, float, bool)

PROBE = {"exec": {"command": [str]}, "httpGet": ANY, "tcpSocket": ANY,
         "initialDelaySeconds": int, "timeoutSeconds": int, "periodSeconds": int,
         "successThreshold": int, "failureThreshold": int,
         "terminationGracePeriodSeconds": int}
FILE = {"path": str, "content": str, "mode": int}
KEY_FILE = {"key": str, "path": str, "mode": int}
VOLUME = {"name": str, "mountPath": str, "files": [FILE],
          "emptyDir": {"medium": str, "sizeLimit": ANY},
          "hostPath": {"path": str, "type": str},
          "configMap": {"name": str, "defaultMode": int, "files": [KEY_FILE]},
          "secret": {"name": str, "defaultMode": int, "files": [KEY_FILE]}}
CONTAINER = {
    "name": str, "init": bool, "image": str,
    "imageDetails": {"imagePath": str, "username": str, "password": str},
    "imagePullPolicy": str,
    "ports": [{"name": str, "containerPort": int, "protocol": str}],
    "command": [str], "args": [str], "workingDir": str,
    "envConfig": ANY, "volumeConfig": [VOLUME],
    "kubernetes": {"livenessProbe": PROBE, "readinessProbe": PROBE, "startupProbe": PROBE,
                   "securityContext": ANY},
}
CONTAINER_V2 = dict(CONTAINER)
del CONTAINER_V2["envConfig"], CONTAINER_V2["volumeConfig"]
CONTAINER_V2.update({"config": ANY,
                     "files": [{"name": str, "mountPath": str, "files": {str: str}}]})
SECRET = {"name": str, "type": str, "labels": {str: str}, "annotations": {str: str},
          "data": {str: str}, "stringData": {str: SCALAR}}
POD = {"annotations": {str: str}, "labels": {str: str}, "activeDeadlineSeconds": int,
       "terminationGracePeriodSeconds": int, "dnsPolicy": str, "securityContext": ANY,
       "priority": int, "priorityClassName": str, "readinessGates": ANY, "restartPolicy": str,
       "hostNetwork": bool, "hostPID": bool, "serviceAccountName": ANY}
K8S_RESOURCES = {"pod": POD, "secrets": [SECRET], "services": ANY,
                 "customResourceDefinitions": ANY, "customResources": ANY,
                 "mutatingWebhookConfigurations": ANY, "validatingWebhookConfigurations": ANY,
                 "ingressResources": ANY, "serviceAccounts": ANY}
SERVICE = {"annotations": {str: str}, "scalePolicy": str, "updateStrategy": ANY}
SERVICE_ACCOUNT = {"automountServiceAccountToken": bool, "global": bool, "roles": ANY}
TOP = {"version": int, "containers": [CONTAINER], "serviceAccount": SERVICE_ACCOUNT,
       "service": SERVICE, "configMaps": {str: {str: SCALAR}},
       "kubernetesResources": K8S_RESOURCES}
TOP_V2 = dict(TOP, containers=[CONTAINER_V2],
              kubernetesResources=dict(K8S_RESOURCES))
ENV_REFS = ("field", "secret", "config-map", "resource")


def _type_name(t):
    return {str: "string", int: "int", bool: "bool", float: "number"}.get(t, "value")


def _check(value, schema, where):
    if schema is ANY:
        return
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise SpecError("json: cannot unmarshal %s into Go value of type %s"
                            % (type(value).__name__, where or "spec"))
        if len(schema) == 1 and next(iter(schema)) in (str,):
            vtype = schema[str]
            for k, v in value.items():
                _check(v, vtype, "%s.%s" % (where, k))
            return
        for k, v in value.items():
            if k not in schema:
                raise SpecError('json: unknown field "%s"' % k)
            if v is not None:
                _check(v, schema[k], "%s.%s" % (where, k) if where else k)
        return
    if isinstance(schema, list):
        if not isinstance(value, list):
            raise SpecError("json: cannot unmarshal %s into Go struct field %s of type []"
                            % (type(value).__name__, where))
        for i, item in enumerate(value):
            _check(item, schema[0], "%s[%d]" % (where, i))
        return
    if isinstance(schema, tuple):
        if not isinstance(value, schema):
            raise SpecError("json: cannot unmarshal %s into Go struct field %s"
                            % (type(value).__name__, where))
        return
    ok = isinstance(value, schema) and not (schema is int and isinstance(value, bool))
    if schema is float:
        ok = isinstance(value, (int, float))
    if not ok:
        raise SpecError("json: cannot unmarshal %s into Go struct field %s of type %s"
                        % (type(value).__name__, where, _type_name(schema)))


def _v2_to_v3(spec):
    for c in spec.get("containers") or []:
        if "config" in c:
            c["envConfig"] = c.pop("config")
        if "files" in c:
            c["volumeConfig"] = [
                {"name": fs.get("name"), "mountPath": fs.get("mountPath"),
                 "files": [{"path": p, "content": t} for p, t in (fs.get("files") or {}).items()]}
                for fs in c.pop("files")]
    return spec


def _validate_container(c):
    if not c.get("name"):
        raise SpecError("spec name is missing")
    details = c.get("imageDetails") or {}
    if "imagePath" not in details and "image" not in c:
        raise SpecError("spec image details is missing")
    for k, v in (c.get("envConfig") or {}).items():
        if isinstance(v, dict):
            refs = [r for r in ENV_REFS if r in v]
            if len(refs) > 1:
                raise SpecError('env "%s" can only have one of %s' % (k, ", ".join(refs)))
            if "field" in v and not (v["field"] or {}).get("path"):
                raise SpecError('env "%s": field path is missing' % k)
            for r in ("secret", "config-map"):
                if r in v and not (v[r] or {}).get("name"):
                    raise SpecError('env "%s": %s name is missing' % (k, r))
    names = set()
    for vol in c.get("volumeConfig") or []:
        if not vol.get("name"):
            raise SpecError("volume name is missing")
        if vol["name"] in names:
            raise SpecError('duplicated volume name "%s"' % vol["name"])
        names.add(vol["name"])
        if not vol.get("mountPath"):
            raise SpecError('mount path is missing for volume "%s"' % vol["name"])
        kinds = [k for k in ("files", "emptyDir", "hostPath", "configMap", "secret") if k in vol]
        if len(kinds) != 1:
            raise SpecError('volume "%s": exactly one of files, emptyDir, hostPath, configMap, '
                            'secret is required' % vol["name"])
        for f in vol.get("files") or []:
            if not f.get("path"):
                raise SpecError('file set "%s": file path is missing' % vol["name"])
    for p in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = (c.get("kubernetes") or {}).get(p)
        if probe and not (probe.get("exec") or probe.get("tcpSocket") or probe.get("httpGet")):
            raise SpecError("%s: a handler (exec, tcpSocket or httpGet) is required" % p)


def parse(text, k8s_resources=None):
    """Parse and validate a pod spec text; returns the spec normalized to version 3 fields.

    ``k8s_resources`` is appended to the spec text as Juju does for ``--k8s-resources``.
    """
    if k8s_resources:
        text = text.rstrip("\n") + "\n" + k8s_resources
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SpecError("yaml: %s" % str(e).splitlines()[0])
    if not isinstance(spec, dict):
        raise SpecError("json: cannot unmarshal %s into Go value of type specs.PodSpec"
                        % type(spec).__name__)
    version = spec.get("version", 2)
    if version == 3:
        _check(spec, TOP, "")
    elif version == 2:
        _check(spec, TOP_V2, "")
        spec = _v2_to_v3(spec)
    else:
        raise SpecError("version %s not supported" % version)
    containers = spec.get("containers") or []
    if not containers:
        raise SpecError("require at least one container spec")
    seen = set()
    for c in containers:
        _validate_container(c)
        if c["name"] in seen:
            raise SpecError('duplicate name "%s" for container' % c["name"])
        seen.add(c["name"])
    for s in (spec.get("kubernetesResources") or {}).get("secrets") or []:
        if not s.get("name"):
            raise SpecError("secret name is missing")
        for k, v in (s.get("data") or {}).items():
            try:
                base64.b64decode(v, validate=True)
            except ValueError:
                raise SpecError('secret "%s": data "%s" is not base64 encoded'
                                % (s["name"], k))
    return spec


def pod_template(spec):
    """The part of a spec that makes up the pod template of the StatefulSet/Deployment.

    Kubernetes replaces pods only when the template changes: the containers (image, command,
    args, env including literal envConfig values, ports, probes, volumes and mounts) and the
    pod-level fields of ``kubernetesResources.pod``. The data of ConfigMaps and Secrets is not in
    it: a ``files`` volume is a reference to the ConfigMap Juju creates for it (k8s.go
    fileSetToVolume: name, keys, paths and modes), so its content changes no template.
    """
    containers = []
    for c in spec.get("containers") or []:
        c = dict(c)
        vols = []
        for vol in c.get("volumeConfig") or []:
            if "files" in vol:
                vol = dict(vol, files=[{k: v for k, v in f.items() if k != "content"}
                                       for f in vol["files"]])
            vols.append(vol)
        if vols:
            c["volumeConfig"] = vols
        containers.append(c)
    return {"containers": containers,
            "pod": (spec.get("kubernetesResources") or {}).get("pod") or {}}


def spec_hash(spec):
    """The pod template hash (Kubernetes' controller-revision-hash / pod-template-hash role)."""
    text = json.dumps(pod_template(spec), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def secrets(spec):
    """``{secret name: {key: str value}}`` from ``kubernetesResources.secrets``."""
    out = {}
    for s in (spec.get("kubernetesResources") or {}).get("secrets") or []:
        d = {k: base64.b64decode(v).decode(errors="replace")
             for k, v in (s.get("data") or {}).items()}
        d.update({k: str(v) for k, v in (s.get("stringData") or {}).items()})
        out[s["name"]] = d
    return out


def grace_period(spec):
    pod = (spec.get("kubernetesResources") or {}).get("pod") or {}
    return int(pod.get("terminationGracePeriodSeconds", 30))


def ports(spec):
    out = []
    for c in spec.get("containers") or []:
        for p in c.get("ports") or []:
            if (p.get("protocol") or "TCP").upper() == "TCP" and p["containerPort"] not in out:
                out.append(p["containerPort"])
    return out
