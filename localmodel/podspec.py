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


ANY = object()  # free-form in Juju too (unstructured custom resources) or not realized here
SCALAR = (str, int, float, bool)
INT_OR_STRING = (int, str)  # Kubernetes intstr.IntOrString

# Kubernetes core/v1 types the spec embeds: Go structs, decoded as strictly as Juju's own.
SE_LINUX = {"user": str, "role": str, "type": str, "level": str}
WINDOWS = {"gmsaCredentialSpecName": str, "gmsaCredentialSpec": str, "runAsUserName": str,
           "hostProcess": bool}
SECCOMP = {"type": str, "localhostProfile": str}
SECURITY_CONTEXT = {
    "capabilities": {"add": [str], "drop": [str]}, "privileged": bool,
    "seLinuxOptions": SE_LINUX, "windowsOptions": WINDOWS, "runAsUser": int, "runAsGroup": int,
    "runAsNonRoot": bool, "readOnlyRootFilesystem": bool, "allowPrivilegeEscalation": bool,
    "procMount": str, "seccompProfile": SECCOMP}
POD_SECURITY_CONTEXT = {
    "seLinuxOptions": SE_LINUX, "windowsOptions": WINDOWS, "runAsUser": int, "runAsGroup": int,
    "runAsNonRoot": bool, "supplementalGroups": [int], "fsGroup": int,
    "sysctls": [{"name": str, "value": str}], "fsGroupChangePolicy": str,
    "seccompProfile": SECCOMP}
PROBE = {"exec": {"command": [str]},
         "httpGet": {"path": str, "port": INT_OR_STRING, "host": str, "scheme": str,
                     "httpHeaders": [{"name": str, "value": str}]},
         "tcpSocket": {"port": INT_OR_STRING, "host": str},
         "initialDelaySeconds": int, "timeoutSeconds": int, "periodSeconds": int,
         "successThreshold": int, "failureThreshold": int,
         "terminationGracePeriodSeconds": int}
# caas/specs/filesets.go
FILE = {"path": str, "content": str, "mode": int}
KEY_FILE = {"key": str, "path": str, "mode": int}
VOLUME = {"name": str, "mountPath": str, "files": [FILE],
          "emptyDir": {"medium": str, "sizeLimit": INT_OR_STRING},
          "hostPath": {"path": str, "type": str},
          "configMap": {"name": str, "defaultMode": int, "files": [KEY_FILE]},
          "secret": {"name": str, "defaultMode": int, "files": [KEY_FILE]}}
# caas/kubernetes/provider/specs/container_env.go: a map value of envConfig is one reference.
ENV_REF = {"field": {"api-version": str, "path": str},
           "resource": {"container-name": str, "resource": str, "divisor": INT_OR_STRING},
           "secret": {"name": str, "key": str, "optional": bool},
           "config-map": {"name": str, "key": str, "optional": bool}}
CONTAINER = {
    "name": str, "init": bool, "image": str,
    "imageDetails": {"imagePath": str, "username": str, "password": str},
    "imagePullPolicy": str,
    "ports": [{"name": str, "containerPort": int, "protocol": str}],
    "command": [str], "args": [str], "workingDir": str,
    "envConfig": {str: ANY}, "volumeConfig": [VOLUME],
    "kubernetes": {"livenessProbe": PROBE, "readinessProbe": PROBE, "startupProbe": PROBE,
                   "securityContext": SECURITY_CONTEXT},
}
CONTAINER_V2 = dict(CONTAINER)
del CONTAINER_V2["envConfig"], CONTAINER_V2["volumeConfig"]
CONTAINER_V2.update({"config": {str: ANY},
                     "files": [{"name": str, "mountPath": str, "files": {str: str}}]})
# caas/kubernetes/provider/specs/secrets.go
SECRET = {"name": str, "type": str, "labels": {str: str}, "annotations": {str: str},
          "data": {str: str}, "stringData": {str: str}}
# caas/kubernetes/provider/specs/types.go, PodSpec
POD = {"annotations": {str: str}, "labels": {str: str}, "activeDeadlineSeconds": int,
       "terminationGracePeriodSeconds": int, "dnsPolicy": str,
       "securityContext": POD_SECURITY_CONTEXT, "priority": int, "priorityClassName": str,
       "readinessGates": [{"conditionType": str}], "restartPolicy": str,
       "hostNetwork": bool, "hostPID": bool}
# Kinds the model does not realize stay free-form (ANY): Kubernetes would check them, not us.
K8S_RESOURCES = {"pod": POD, "secrets": [SECRET], "services": ANY,
                 "customResourceDefinitions": ANY, "customResources": ANY,
                 "mutatingWebhookConfigurations": ANY, "validatingWebhookConfigurations": ANY,
                 "ingressResources": ANY, "serviceAccounts": ANY}
SERVICE = {"annotations": {str: str}, "scalePolicy": str,
           "updateStrategy": {"type": str, "rollingUpdate": {
               "partition": int, "maxSurge": INT_OR_STRING, "maxUnavailable": INT_OR_STRING}}}
POLICY_RULE = {"apiGroups": [str], "resources": [str], "resourceNames": [str],
               "nonResourceURLs": [str], "verbs": [str]}
SERVICE_ACCOUNT = {"automountServiceAccountToken": bool, "global": bool,
                   "roles": [{"name": str, "global": bool, "rules": [POLICY_RULE]}]}
TOP = {"version": int, "containers": [CONTAINER], "serviceAccount": SERVICE_ACCOUNT,
       "service": SERVICE, "configMaps": {str: {str: str}}, "omitServiceFrontend": bool,
       "kubernetesResources": K8S_RESOURCES}
TOP_V2 = dict(TOP, containers=[CONTAINER_V2],
              kubernetesResources=dict(K8S_RESOURCES))


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
        for k in list(value):
            # Go's decoder matches struct fields case-insensitively; the spec keeps the
            # canonical spelling so that the rest of the model finds the field.
            name = k if k in schema else next(
                (f for f in schema if isinstance(f, str) and f.lower() == str(k).lower()), None)
            if name is None:
                raise SpecError('json: unknown field "%s"' % k)
            if name != k:
                value[name] = value.pop(k)
            if value[name] is not None:
                _check(value[name], schema[name], "%s.%s" % (where, name) if where else name)
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


def _go_type(v):
    return "<nil>" if v is None else "[]interface {}" if isinstance(v, list) else type(v).__name__


def _validate_env(c):
    """caas/kubernetes/provider/specs/container_env.go: a scalar is the value as text; a map is
    decoded strictly and must make exactly one reference; anything else is refused."""
    for k, v in (c.get("envConfig") or {}).items():
        if isinstance(v, SCALAR):
            continue
        if not isinstance(v, dict):
            raise SpecError('config "%s" with type %s not supported' % (k, _go_type(v)))
        _check(v, ENV_REF, "envConfig.%s" % k)
        made = [r for r, need in (("field", "path"), ("resource", "resource"),
                                  ("secret", "name"), ("config-map", "name"))
                if (v.get(r) or {}).get(need)]
        if len(made) != 1:
            raise SpecError('config format of "%s" not supported' % k)


def _validate_volume(vol):
    """caas/specs/filesets.go, FileSet.Validate and VolumeSource.Validate."""
    name = vol.get("name")
    if not name:
        raise SpecError("file set name is missing")
    if not vol.get("mountPath"):
        raise SpecError('mount path is missing for file set "%s"' % name)
    sources = 0
    if vol.get("files"):
        sources += 1
        for f in vol["files"]:
            if not f.get("path"):
                raise SpecError('Path is missing for "%s"' % name)
            if not f.get("content"):
                raise SpecError('Content is missing for "%s"' % name)
    if vol.get("hostPath") is not None:
        sources += 1
        if not vol["hostPath"].get("path"):
            raise SpecError('Path is missing for "%s"' % name)
    if vol.get("emptyDir") is not None:
        sources += 1
    for kind in ("secret", "configMap"):
        if vol.get(kind) is not None:
            sources += 1
            if not vol[kind].get("name"):
                raise SpecError('Name is missing for "%s"' % name)
            for f in vol[kind].get("files") or []:
                if not f.get("key"):
                    raise SpecError('Key is missing for "%s"' % name)
                if not f.get("path"):
                    raise SpecError('Path is missing for "%s"' % name)
    if sources == 0:
        raise SpecError('file set "%s" requires volume source' % name)
    if sources > 1:
        raise SpecError('file set "%s" can only have one volume source' % name)


def _validate_container(c):
    if not c.get("name"):
        raise SpecError("spec name is missing")
    details = c.get("imageDetails") or {}
    if not details.get("imagePath") and not c.get("image"):
        raise SpecError("spec image details is missing")
    for vol in c.get("volumeConfig") or []:
        _validate_volume(vol)
    _validate_env(c)
    for p in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = (c.get("kubernetes") or {}).get(p)
        if probe and not (probe.get("exec") or probe.get("tcpSocket") or probe.get("httpGet")):
            raise SpecError("%s: a handler (exec, tcpSocket or httpGet) is required" % p)


def _volume_source(vol):
    return {k: v for k, v in vol.items() if k not in ("name", "mountPath")}


def _validate_volumes_across(containers):
    """caas/specs/types.go, caasContainers.Validate: containers may share a volume by naming
    the same file set, which must then be the same volume."""
    volumes = {}
    for c in containers:
        seen, paths = [], set()
        for vol in c.get("volumeConfig") or []:
            first = volumes.setdefault(vol["name"], vol)
            if _volume_source(first) != _volume_source(vol):
                raise SpecError('duplicated file "%s" with different volume spec not valid'
                                % vol["name"])
            if vol in seen:
                raise SpecError('duplicated file "%s" in container "%s" not valid'
                                % (vol["name"], c["name"]))
            seen.append(vol)
            if vol["mountPath"] in paths:
                raise SpecError('duplicated mount path "%s" in container "%s" not valid'
                                % (vol["mountPath"], c["name"]))
            paths.add(vol["mountPath"])


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
        raise SpecError("latest supported version 3, but got podspec version %s" % version)
    containers = spec.get("containers") or []
    if not containers:
        raise SpecError("require at least one container spec")
    seen = set()
    for c in containers:
        _validate_container(c)
        if c["name"] in seen:
            raise SpecError('duplicate name "%s" for container' % c["name"])
        seen.add(c["name"])
    _validate_volumes_across(containers)
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


def pod_fields(spec):
    """The pod-level fields of ``spec`` (``kubernetesResources.pod``)."""
    return (spec.get("kubernetesResources") or {}).get("pod") or {}


def with_annotations_of(pod, spec):
    """The pod-level fields ``pod`` with the pod annotations of ``spec``: the one pod-level
    field Juju copies onto an existing StatefulSet (``existing.Spec.Template.SetAnnotations``)."""
    pod = {k: v for k, v in pod.items() if k != "annotations"}
    annotations = pod_fields(spec).get("annotations")
    if annotations:
        pod["annotations"] = annotations
    return pod


def as_created(spec, pod):
    """``spec`` with the pod-level fields ``pod`` in place of its own: what a StatefulSet's
    template holds once Juju created it with ``pod`` (see the README, "Pod-level fields")."""
    resources = dict(spec.get("kubernetesResources") or {})
    resources["pod"] = pod
    return dict(spec, kubernetesResources=resources)


def of_pods(app):
    """The spec of the application state ``app`` as its pods are made from it: its last spec,
    with the pod-level fields its StatefulSet was created with."""
    return as_created(app["spec"], app.get("pod-fields", pod_fields(app["spec"])))


# The pod template annotation Juju's EnsureService sets from the application's charm-modified
# version (caas/kubernetes/provider/k8s.go, workloadResourceAnnotations): a new value rolls the pods.
CHARM_MODIFIED_VERSION = "juju.io/charm-modified-version"


def spec_hash(spec, charm_modified_version=0):
    """The pod template hash (Kubernetes' controller-revision-hash / pod-template-hash role) of
    ``spec`` with the charm-modified version Juju annotates the template with."""
    template = dict(pod_template(spec),
                    annotations={CHARM_MODIFIED_VERSION: str(charm_modified_version)})
    text = json.dumps(template, sort_keys=True)
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
