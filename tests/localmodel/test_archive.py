"""The charm's way to the units: uploaded before the controller records anything, unpacked by
each unit's uniter. Neither holds the model lock (hooks and tool calls go on meanwhile)."""

import os
import shutil
import socket
import threading

import pytest

from conftest import ECHO
from localmodel import archive, controller as controllerlib, state as statelib
from localmodel import uniter as uniterlib
from localmodel.paths import Paths


def _controller(home):
    paths = Paths(home)
    paths.makedirs()
    statelib.save(paths.state, statelib.new_state("test", "127.69", 300, 0.5))
    return controllerlib.Controller(home)


def _probing(ctl, copy, lock_free):
    """``copy``, after noting in ``lock_free`` whether another thread could take the lock."""
    def probed(source, target):
        probe = threading.Thread(target=lambda: lock_free.append(
            ctl.lock.acquire(blocking=False) and (ctl.lock.release() or True)))
        probe.start()
        probe.join()
        return copy(source, target)
    return probed


def test_a_charm_is_uploaded_without_the_model_lock_and_dropped_when_refused(
        tmp_path, monkeypatch):
    ctl = _controller(str(tmp_path / "home"))
    lock_free_while_copying = []
    monkeypatch.setattr(controllerlib, "stage_charm", _probing(
        ctl, controllerlib.stage_charm, lock_free_while_copying))
    answer = ctl.handle({"op": "upgrade", "args": {"app": "nope", "charm_dir": ECHO}})
    assert answer == {"error": 'application "nope" not found'}
    assert lock_free_while_copying == [True]
    assert os.listdir(ctl.paths.staging) == []


def test_a_unit_unpacks_its_charm_without_the_model_lock(tmp_path, monkeypatch):
    ctl = _controller(str(tmp_path / "home"))
    archive.install_charm(ECHO, ctl.paths.charm("echo"))
    unit = {"number": 0, "queue": [], "joined": {}}
    ctl.state["applications"]["echo"] = {"charm-rev": 3, "units": {"echo/0": unit}}
    lock_free_while_unpacking = []
    monkeypatch.setattr(uniterlib, "install_charm", _probing(
        ctl, archive.install_charm, lock_free_while_unpacking))
    ctl._deploy_charm("echo", "echo/0", 3)
    assert lock_free_while_unpacking == [True]
    assert unit["deployed-charm-rev"] == 3
    assert os.access(os.path.join(ctl.paths.unit_charm("echo/0"), "hooks", "install"), os.X_OK)


def test_a_unit_runs_its_hook_while_another_unit_of_its_operator_unpacks(tmp_path, monkeypatch):
    ctl = _controller(str(tmp_path / "home"))
    archive.install_charm(ECHO, ctl.paths.charm("echo"))
    ready = {"number": 0, "queue": [{"hook": "update-status", "seq": 1}], "joined": {},
             "deployed-charm-rev": 3}
    fresh = {"number": 1, "queue": [], "joined": {}}
    ctl.state["applications"]["echo"] = {"charm-rev": 3,
                                         "units": {"echo/0": ready, "echo/1": fresh}}
    unpacking, release, hook_ran = threading.Event(), threading.Event(), threading.Event()

    def slow_unpack(source, target):
        unpacking.set()
        release.wait(10)
        return archive.install_charm(source, target)

    def hook(app, ctx, item):
        hook_ran.set()
        with ctl.lock:
            ctl.current.pop(item["unit"], None)
            ctl.busy.discard(app)
            ready["queue"].clear()

    monkeypatch.setattr(uniterlib, "install_charm", slow_unpack)
    monkeypatch.setattr(ctl, "operator_ready", lambda app: True)
    monkeypatch.setattr(ctl, "_prepare_hook", lambda item: None)
    monkeypatch.setattr(ctl, "_execute_hook", hook)
    worker = threading.Thread(target=ctl._worker, args=("echo",), daemon=True)
    worker.start()
    try:
        assert unpacking.wait(10)
        # echo/1 is still unpacking: echo/0's hook does not wait for it.
        assert hook_ran.wait(10)
        assert "deployed-charm-rev" not in fresh
    finally:
        release.set()
        with ctl.lock:
            while ctl.unpacking.get("echo"):
                ctl.cond.wait(1)
        ctl.stopping.set()
        worker.join(5)
    assert fresh["deployed-charm-rev"] == 3


def _charm_copy(tmp_path):
    charm = tmp_path / "charm"
    shutil.copytree(ECHO, charm, symlinks=True)
    return charm


@pytest.mark.parametrize("make, refusal", [
    (lambda charm: os.symlink("/etc/hostname", charm / "hooks" / "stray"),
     'symlink "hooks/stray" is absolute: "/etc/hostname"'),
    (lambda charm: os.symlink("../../outside", charm / "hooks" / "stray"),
     'symlink "hooks/stray" links out of charm: "../../outside"'),
    (lambda charm: os.mkfifo(charm / "pipe"), 'file is a named pipe: "pipe"'),
    (lambda charm: socket.socket(socket.AF_UNIX).bind(str(charm / "agent.socket")),
     'file is a socket: "agent.socket"'),
])
def test_a_charm_juju_would_not_archive_is_refused_and_nothing_is_recorded(
        tmp_path, make, refusal):
    """juju/charm charmdir.go (``ArchiveTo``: checkSymlinkTarget, checkFileType)."""
    ctl = _controller(str(tmp_path / "home"))
    charm = _charm_copy(tmp_path)
    make(charm)
    answer = ctl.handle({"op": "deploy", "args": {"charm_dir": str(charm), "app": "echo"}})
    assert answer == {"error": refusal}
    assert "echo" not in ctl.state["applications"]
    assert os.listdir(ctl.paths.staging) == []


def test_a_symlink_within_the_charm_is_archived(tmp_path):
    ctl = _controller(str(tmp_path / "home"))
    charm = _charm_copy(tmp_path)
    os.symlink("install", charm / "hooks" / "start-again")
    answer = ctl.handle({"op": "deploy", "args": {"charm_dir": str(charm), "app": "echo",
                                                  "num_units": 0}})
    assert "error" not in answer, answer
    assert os.readlink(os.path.join(ctl.paths.charm("echo"), "hooks", "start-again")) == "install"
