"""A jujuc server on TCP for hook tools called from inside a workload container.

Juju's runner starts one for each remote execution (``startJujucServer(token, runOnRemote)`` in
worker/uniter/runner/runner.go) and checks the context id of every call (``expected context id
%q, got %q``); the token keeps other processes of the cluster out. The pods of the local model
share the host's loopback, so the server listens on 127.0.0.1.
"""

import json
import secrets
import socket
import threading

from localmodel.hooktools import commands


class ToolServer:
    """Serves the hook tools of one context until ``close``."""

    def __init__(self, ctl, ctx):
        self.ctl, self.ctx = ctl, ctx
        self.token = secrets.token_hex(16)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, name="jujuc-" + ctx.id, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _answer(self, req):
        if req.get("token") != self.token:
            return 1, "", "ERROR permission denied\n"
        if req.get("context") != self.ctx.id:
            return 1, "", 'ERROR bad request: expected context id "%s", got "%s"\n' % (
                self.ctx.id, req.get("context"))
        with self.ctl.lock:
            return commands.run(self.ctl, self.ctx, req["tool"], req.get("args") or [],
                                req.get("stdin"), req.get("files") or {})

    def _handle(self, conn):
        with conn:
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            try:
                rc, out, err = self._answer(json.loads(data))
            except Exception as e:  # the caller must hear back whatever happens
                rc, out, err = 1, "", "ERROR %s\n" % e
            ob, eb = out.encode(), err.encode()
            try:
                conn.sendall(b"%d %d %d\n" % (rc, len(ob), len(eb)) + ob + eb)
            except OSError:
                pass

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
