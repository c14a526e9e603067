"""What the metrics relations publish: Prometheus scrape jobs for every pod's redis-exporter.

Each pod runs a ``redis-exporter`` container (oliver006/redis_exporter) on its own address at
``metrics-port``: ``/metrics`` exports the pod's redis; ``/scrape?target=unix://<sentinel socket>``
(the exporter's multi-target endpoint) exports the pod's sentinel. The exporter reaches both
through their unix sockets in the pod's shared emptyDir (:data:`redis_k8s.podspec.SENTINEL_SOCKET`),
so TLS on or off changes nothing here. Both authenticate as the metrics user.

Two relations carry this:

- ``metrics-endpoint`` (interface ``prometheus_scrape``, the shape of the canonical
  ``charms.prometheus_k8s.v0.prometheus_scrape`` library): the leader puts ``scrape_jobs`` (a
  JSON list of Prometheus scrape job configs) and ``scrape_metadata`` (JSON: model, model_uuid,
  application, charm_name) in the application data; every unit puts its pod address and unit
  name in its unit data (``prometheus_scrape_unit_address``, ``prometheus_scrape_unit_name``).
  The jobs' targets are ``*:<metrics-port>``: the consumer expands ``*`` to each unit's
  address and labels each target with the unit (``juju_unit``). The library keeps only some
  job keys (``job_name``, ``metrics_path``, ``static_configs``, ``relabel_configs``, ...; not
  ``params``), so the sentinel job sets the exporter's ``target`` parameter by relabelling the
  target address (``__param_target``), which Prometheus sends as ``?target=``.
- ``prometheus`` (the reactive interface-prometheus, provides side): per unit ``hostname``,
  ``port``, ``metrics_path`` and ``labels`` (JSON): the pod's redis metrics only (that
  interface has one endpoint per unit and no query parameters).

The pod address, not the unit's ingress address: on a Kubernetes model Juju gives a unit's
relations the application's Service address as ``ingress-address``, which would reach any pod.
"""

import json

from .podspec import SENTINEL_SOCKET

REDIS_JOB = "redis"
SENTINEL_JOB = "sentinel"
# The label telling a pod's redis series from its sentinel's (both come from one exporter
# address, so ``instance`` alone does not).
COMPONENT_LABEL = "redis_k8s_component"
METRICS_PATH = "/metrics"
SCRAPE_PATH = "/scrape"
# The exporter's target for the pod's sentinel: the socket in its own pod's shared emptyDir.
SENTINEL_TARGET = "unix://" + SENTINEL_SOCKET


def scrape_jobs(metrics_port: int) -> list:
    """The Prometheus scrape jobs of the application (``scrape_jobs`` of ``prometheus_scrape``).

    One job for the pods' redis (the exporter's ``/metrics``), one for their sentinels (its
    ``/scrape`` with ``target=`` :data:`SENTINEL_TARGET`: every exporter reads the sentinel of
    its own pod through the socket, so the target is the same string for every pod; it is set by
    relabelling because the canonical library drops ``params``). Job names are fixed strings, so
    series continue across leader changes.
    """
    wildcard = "*:{}".format(int(metrics_port))
    return [
        {
            "job_name": REDIS_JOB,
            "metrics_path": METRICS_PATH,
            "static_configs": [{"targets": [wildcard], "labels": {COMPONENT_LABEL: "redis"}}],
        },
        {
            "job_name": SENTINEL_JOB,
            "metrics_path": SCRAPE_PATH,
            "static_configs": [{"targets": [wildcard], "labels": {COMPONENT_LABEL: "sentinel"}}],
            "relabel_configs": [{
                "source_labels": ["__address__"],
                "regex": ".+",
                "target_label": "__param_target",
                "replacement": SENTINEL_TARGET,
            }],
        },
    ]


def scrape_metadata(model: str, model_uuid: str, application: str, charm_name: str) -> dict:
    """``scrape_metadata`` of ``prometheus_scrape``: the Juju topology the consumer labels every
    series with (``juju_model``, ``juju_model_uuid``, ``juju_application``, ``juju_charm``)."""
    return {"model": model, "model_uuid": model_uuid, "application": application,
            "charm_name": charm_name}


def scrape_app_data(metrics_port: int, model: str, model_uuid: str,
                    application: str, charm_name: str) -> dict:
    """The leader's application data on ``metrics-endpoint``: JSON strings, as relation data must be."""
    return {
        "scrape_jobs": json.dumps(scrape_jobs(metrics_port), sort_keys=True),
        "scrape_metadata": json.dumps(scrape_metadata(model, model_uuid, application, charm_name),
                                      sort_keys=True),
    }


def scrape_unit_data(pod_address: str, unit_name: str) -> dict:
    """A unit's data on ``metrics-endpoint``: where its pod's exporter is, and which unit it is."""
    return {"prometheus_scrape_unit_address": str(pod_address),
            "prometheus_scrape_unit_name": str(unit_name)}


def prometheus_unit_data(pod_address: str, metrics_port: int, unit_name: str,
                         application: str) -> dict:
    """A unit's data on the plain ``prometheus`` relation: its pod's redis metrics.

    ``labels`` carries ``host`` (the unit name with ``-`` for ``/``, as interface-prometheus
    fills it in) and the application, so a dashboard tells the pods apart.
    """
    return {
        "hostname": str(pod_address),
        "port": str(int(metrics_port)),
        "metrics_path": METRICS_PATH,
        "labels": json.dumps({"host": unit_name.replace("/", "-"), "juju_unit": unit_name,
                              "juju_application": application, COMPONENT_LABEL: "redis"},
                             sort_keys=True),
    }
