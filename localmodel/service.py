"""A Service: TCP on the Service address, forwarded to a ready pod (round robin).

Runs as its own process (``python -m localmodel.service HOME APP``) so Services keep working
while the controller restarts. It follows ``run/service-APP.json``, which the controller keeps
current (address, ports, ready backends).
"""

import asyncio
import itertools
import json
import os
import sys

from localmodel.paths import Paths


class Forwarder:
    def __init__(self, home, app):
        self.path = Paths(home).service(app)
        self.address = None
        self.backends = []
        self.servers = {}
        self.counter = itertools.count()
        self.mtime = None

    async def pipe(self, reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                writer.close()
            except OSError:
                pass

    async def handle(self, port, reader, writer):
        backends = list(self.backends)
        start = next(self.counter)
        for i in range(len(backends)):
            target = backends[(start + i) % len(backends)]
            try:
                r2, w2 = await asyncio.wait_for(asyncio.open_connection(target, port), 2)
            except (OSError, asyncio.TimeoutError):
                continue
            await asyncio.gather(self.pipe(reader, w2), self.pipe(r2, writer))
            return
        writer.close()

    async def refresh(self):
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return False
        if mtime == self.mtime:
            return True
        self.mtime = mtime
        with open(self.path) as f:
            cfg = json.load(f)
        self.backends = cfg["backends"]
        if cfg["address"] != self.address:
            for s in self.servers.values():
                s.close()
            self.servers = {}
            self.address = cfg["address"]
        for port in list(self.servers):
            if port not in cfg["ports"]:
                self.servers.pop(port).close()
        for port in cfg["ports"]:
            if port not in self.servers:
                try:
                    self.servers[port] = await asyncio.start_server(
                        lambda r, w, p=port: self.handle(p, r, w), self.address, port,
                        reuse_address=True)
                except OSError as e:
                    print("cannot listen on %s:%d: %s" % (self.address, port, e), flush=True)
                    self.mtime = None
        return True

    async def run(self):
        while await self.refresh():
            await asyncio.sleep(0.2)


def main(home, app):
    asyncio.run(Forwarder(home, app).run())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
