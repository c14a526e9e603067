"""Shared by the functional tests and the benchmarks: a deployed redis-k8s, seen from outside."""
