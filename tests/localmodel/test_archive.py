"""The charm's way to the units: uploaded before the controller records anything, unpacked by
each unit's uniter. Neither holds the model lock (hooks and tool calls go on meanwhile)."""

import os
import threading

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
