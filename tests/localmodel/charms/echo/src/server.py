#!/usr/bin/python3
"""Line protocol server of the echo workload (stdlib only, binds the pod address)."""
import os
import signal
import socket
import socketserver
import sys

DATA = os.path.join(os.environ.get("DATA_DIR", "/tmp"), "data.txt")


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for raw in self.rfile:
            cmd, _, arg = raw.decode().strip().partition(" ")
            try:
                reply = answer(cmd, arg)
            except Exception as e:
                reply = "ERR %s" % e
            self.wfile.write((reply.replace("\n", "\\n") + "\n").encode())
            if cmd == "FREEZE":
                # Alive but unresponsive: only the probes can tell.
                self.wfile.flush()
                os.kill(os.getpid(), signal.SIGSTOP)


def answer(cmd, arg):
    if cmd == "FREEZE":
        return "OK"
    if cmd == "PING":
        return "PONG " + socket.gethostname()
    if cmd == "HELLO":
        return "%s from %s" % (os.environ.get("GREETING", "?"), os.environ.get("POD_NAME"))
    if cmd == "RESOLVE":
        return socket.gethostbyname(arg)
    if cmd == "CAT":
        with open(arg) as f:
            return f.read()
    if cmd == "STAT":
        return oct(os.stat(arg).st_mode & 0o777)
    if cmd == "ENV":
        return os.environ.get(arg, "")
    if cmd == "WRITE":
        with open(DATA, "a") as f:
            f.write(arg + "\n")
        return "OK"
    if cmd == "READ":
        with open(DATA) as f:
            return f.read()
    return "ERR unknown command"


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    srv = Server((os.environ["POD_IP"], int(os.environ["ECHO_PORT"])), Handler)
    srv.serve_forever()


main()
