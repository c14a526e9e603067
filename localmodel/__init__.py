"""A Juju 2.9 Kubernetes model on one machine.

Runs a built charm's hooks with Juju's hook tools and realizes its pod spec as real processes
in private namespaces. See ``localmodel/README.md`` for the CLI and the Python API.
"""
