"""Peer side of interface:redis-peers.

The units of redis-k8s share their state through leader data, so the peer relation carries no data;
the endpoint exists so that membership changes set ``endpoint.{name}.joined``/``departed`` flags.
"""

from charms.reactive import Endpoint


class RedisPeers(Endpoint):
    """Membership of the other redis-k8s units (``endpoint.{endpoint_name}.*`` flags only)."""
