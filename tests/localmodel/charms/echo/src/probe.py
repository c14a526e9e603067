#!/usr/bin/python3
"""Readiness/liveness probe: the server answers PING on the pod address."""
import os
import socket
import sys

try:
    s = socket.create_connection((os.environ["POD_IP"], int(os.environ["ECHO_PORT"])), 1)
    s.sendall(b"PING\n")
    sys.exit(0 if s.makefile().readline().startswith("PONG") else 1)
except OSError:
    sys.exit(1)
