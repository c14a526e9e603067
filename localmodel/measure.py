"""Measure the local model: time from ``deploy -n N`` to all pods ready, median hook duration.

    python -m localmodel.measure [--charm DIR] [--resource NAME=VALUE] [-n 3] [--subnet 127.69]

Defaults to the echo test charm. Uses a throw-away model in a temporary LOCALMODEL_HOME.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

from localmodel.client import Model

ECHO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    "tests", "localmodel", "charms", "echo")


def measure(charm, resources, n, subnet):
    with tempfile.TemporaryDirectory(prefix="lm-measure-") as home:
        m = Model(home)
        m.up("measure", subnet, 300, 5)
        try:
            t0 = time.time()
            app = m.deploy(charm, None, num_units=n, resources=resources)
            m.wait_for(lambda st: len(st["pods"]) == n and
                       all(p["ready"] for p in st["pods"].values()), timeout=300,
                       interval=0.05)
            ready = time.time() - t0
            m.wait(120)
            durations = m.hook_durations()
            return {"charm": os.path.basename(os.path.abspath(charm)), "application": app,
                    "units": n, "deploy_to_all_pods_ready_s": round(ready, 2),
                    "hooks": len(durations),
                    "median_hook_s": round(statistics.median(durations), 3)
                    if durations else None,
                    "p90_hook_s": round(sorted(durations)[int(len(durations) * 0.9)], 3)
                    if durations else None}
        finally:
            m.down()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--charm", default=ECHO)
    p.add_argument("--resource", action="append", default=[])
    p.add_argument("-n", type=int, default=3)
    p.add_argument("--subnet", default="127.69")
    args = p.parse_args(argv)
    resources = dict(r.split("=", 1) for r in args.resource) or \
        ({"echo-image": "lm-echo:1.0"} if args.charm == ECHO else {})
    print(json.dumps(measure(args.charm, resources, args.n, args.subnet), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
