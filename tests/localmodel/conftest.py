"""Fixtures: real local models in temporary homes, on subnets 127.60-127.69 (ours)."""

import itertools
import json
import os
import re
import socket
import threading
import time
from contextlib import contextmanager

import pytest

from localmodel import images
from localmodel.client import Model

ECHO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "charms", "echo")
# TEST_SUBNET_BASE moves every subnet of a run (e.g. 160 -> 127.160-127.169), so that two runs on
# one machine (two worktrees) never share an address.
_BASE = int(os.environ.get("TEST_SUBNET_BASE", "60"))
_subnets = itertools.cycle(range(_BASE, _BASE + 10))


@pytest.fixture(scope="session", autouse=True)
def built_images():
    """The images pods run in: built once per machine (scripts/setup.sh), checked here."""
    images.build_all()


@pytest.fixture
def make_model(tmp_path_factory):
    """Factory of models that are always torn down, and checked to leave no process."""
    models = []

    def make(update_status_interval=300, retry_delay=0.5, **options):
        home = str(tmp_path_factory.mktemp("lmhome"))
        m = Model(home)
        m.up("test", "127.%d" % next(_subnets), update_status_interval, retry_delay, **options)
        models.append(m)
        return m
    yield make
    for m in models:
        m.down()
        assert m.processes() == []


@pytest.fixture
def model(make_model):
    return make_model()


def deploy_echo(m, app="echo", n=1, **kw):
    kw.setdefault("resources", {"echo-image": "lm-echo:1.0"})
    m.deploy(ECHO, app, num_units=n, **kw)
    m.wait(90)
    return app


@contextmanager
def config_changed_waiting_for_the_lock(m, app="echo"):
    """While the first unit's juju-run holds the operator's lock (3 s), a config change queues
    config-changed on every unit of ``app``; the block runs with those hooks waiting."""
    holder = threading.Thread(target=m.run, args=(app + "/0", "sleep 3"),
                              kwargs={"operator": True})
    holder.start()
    try:
        time.sleep(0.5)
        m.config(app, {"greeting": "queued"})
        time.sleep(0.5)
        yield
    finally:
        holder.join()


def hooks(m, unit):
    """The hooks the echo charm logged for ``unit``, in order, as (name, remote unit)."""
    out = []
    for line in m.debug_log().splitlines():
        found = re.search(r"unit\.%s\.juju-log HOOK (\S+) unit=\S+ rel=\S* remote=(\S*)"
                          % re.escape(unit), line)
        if found:
            out.append((found.group(1), found.group(2)))
    return out


def ask(address, *commands, port=7000, timeout=3):
    """Send echo protocol commands to ``address:port``; returns the answers."""
    deadline = time.time() + timeout
    while True:
        try:
            with socket.create_connection((address, port), 2) as s:
                f = s.makefile("rw")
                answers = []
                for c in commands:
                    f.write(c + "\n")
                    f.flush()
                    answers.append(f.readline().rstrip("\n").replace("\\n", "\n"))
                return answers
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def set_spec(model, tmp_path, change):
    """Change the application's pod spec as its charm would: ``change(spec)`` edits it in place,
    then the leader's ``pod-spec-set`` (through ``juju-run --operator``) sets it."""
    rc, out, err = model.run("echo/0", "pod-spec-get", operator=True)
    assert rc == 0, err
    spec = json.loads(out)
    change(spec)
    spec_file = tmp_path / ("spec-%d.json" % time.monotonic_ns())
    spec_file.write_text(json.dumps(spec))
    rc, _, err = model.run("echo/0", "pod-spec-set --file %s" % spec_file, operator=True)
    assert rc == 0, err
