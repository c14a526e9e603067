"""Kubernetes probes (exec, tcpSocket, httpGet), each run in a forked child of the pod init.

For an exec probe the child enters the container's mount namespace, and so its root (the
image), so the command sees what the container sees. tcpSocket and httpGet probes connect from
outside the container, as the kubelet does (``pkg/kubelet/prober/prober.go``: ``runProbe``
execs into the container only for exec; it dials tcp/http itself).
"""

import os
import socket
import time

from localmodel.runtime import linux

DEFAULTS = {"initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 1,
            "successThreshold": 1, "failureThreshold": 3}


class Probe:
    def __init__(self, kind, spec, started):
        self.kind = kind
        self.spec = dict(DEFAULTS, **{k: v for k, v in spec.items() if v is not None})
        self.next_at = started + self.spec["initialDelaySeconds"]
        self.pid = None
        self.deadline = None
        self.successes = 0
        self.failures = 0
        self.passed = False

    def due(self, now):
        return self.pid is None and now >= self.next_at

    def launch(self, container_pid, env, cwd, address):
        pid = os.fork()
        if pid == 0:
            try:
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                os.setsid()
                if "exec" in self.spec:
                    # Only exec probes run in the container (its root, its tools); the kubelet
                    # makes tcpSocket and httpGet probes itself, from the node, so those need
                    # nothing of the image (which may have no Python library at all).
                    linux.setns_mount(container_pid)
                    try:
                        os.chdir(cwd)
                    except OSError:
                        os.chdir("/")
                    cmd = self.spec["exec"]["command"]
                    os.execvpe(cmd[0], cmd, env)
                handler = self.spec.get("tcpSocket") or self.spec.get("httpGet") or {}
                host = handler.get("host") or address
                port = int(handler.get("port"))
                s = socket.create_connection((host, port), timeout=self.spec["timeoutSeconds"])
                if "httpGet" in self.spec:
                    s.sendall(("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n"
                               % (handler.get("path", "/"), host)).encode())
                    code = int(s.recv(64).split()[1])
                    os._exit(0 if 200 <= code < 400 else 1)
                os._exit(0)
            except BaseException:
                os._exit(1)
        self.pid = pid
        self.deadline = time.time() + self.spec["timeoutSeconds"]
        return pid

    def finished(self, ok, now):
        """Record a result; returns "fail" when failureThreshold is reached, else None."""
        self.pid = None
        self.next_at = now + self.spec["periodSeconds"]
        if ok:
            self.successes += 1
            self.failures = 0
            if self.successes >= self.spec["successThreshold"]:
                self.passed = True
            return None
        self.failures += 1
        self.successes = 0
        if self.failures >= self.spec["failureThreshold"]:
            self.passed = False
            return "fail"
        return None
