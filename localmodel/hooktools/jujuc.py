#!/usr/bin/python3 -IS
"""Juju hook tool client: one executable linked under every tool name (like jujuc).

Stdlib only: hooks run with the stock /usr/bin/python3. It forwards argv, the files named by
--file style options and stdin (when the tool reads it) to the model controller, and prints its
answer with its exit code.
"""
import json
import os
import socket
import sys

STDIN_TOOLS = ("pod-spec-set", "k8s-spec-set", "k8s-raw-set")
FILE_OPTS = ("--file", "--k8s-resources")


def main():
    tool = os.path.basename(sys.argv[0])
    args = sys.argv[1:]
    files = {}
    wants_stdin = tool in STDIN_TOOLS and not any(a.split("=")[0] == "--file" for a in args)
    for i, a in enumerate(args):
        name, _, val = a.partition("=")
        if name in FILE_OPTS:
            path = val if _ else (args[i + 1] if i + 1 < len(args) else None)
            if path == "-":
                wants_stdin = True
            elif path:
                try:
                    with open(path) as f:
                        files[path] = f.read()
                except OSError as e:
                    sys.stderr.write("ERROR %s\n" % e)
                    return 1
    stdin = sys.stdin.read() if wants_stdin else None
    sock_path = os.environ.get("JUJU_AGENT_SOCKET")
    if not sock_path:
        sys.stderr.write("ERROR JUJU_AGENT_SOCKET not set: not in a hook context\n")
        return 1
    req = {"op": "tool", "tool": tool, "args": args, "stdin": stdin, "files": files,
           "context": os.environ.get("JUJU_CONTEXT_ID", ""), "cwd": os.getcwd(),
           "unit": os.environ.get("JUJU_UNIT_NAME", "")}
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sock_path)
    except OSError as e:
        sys.stderr.write("ERROR cannot reach the agent: %s\n" % e)
        return 1
    s.sendall(json.dumps(req).encode() + b"\n")
    s.shutdown(socket.SHUT_WR)
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    try:
        resp = json.loads(buf)
    except ValueError:
        sys.stderr.write("ERROR connection to the agent lost\n")
        return 1
    if "error" in resp and "rc" not in resp:
        sys.stderr.write("ERROR %s\n" % resp["error"])
        return 1
    sys.stdout.write(resp.get("stdout", ""))
    sys.stderr.write(resp.get("stderr", ""))
    return resp.get("rc", 0)


if __name__ == "__main__":
    sys.exit(main())
