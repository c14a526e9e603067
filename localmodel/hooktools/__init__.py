"""Juju's hook tools: ``jujuc.py`` is the client on the hook PATH, ``commands`` the server side."""

NAMES = (
    "config-get", "is-leader", "leader-get", "leader-set", "relation-ids", "relation-list",
    "relation-get", "relation-set", "status-get", "status-set", "juju-log", "resource-get",
    "pod-spec-set", "k8s-spec-set", "pod-spec-get", "k8s-spec-get", "k8s-raw-set", "k8s-raw-get",
    "network-get", "unit-get", "application-version-set", "goal-state", "juju-run",
    "storage-list", "storage-get", "open-port", "close-port", "opened-ports",
    "action-get", "action-set", "action-fail", "action-log",
)
