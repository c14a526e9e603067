"""Charm directories as Juju moves them: archived by `juju deploy`, stored by the controller,
unpacked by each unit's uniter (keeping what the unit's hooks wrote)."""

import json
import os
import shutil
import stat
import time

CHARM_FILES = ".localmodel-charm-files"


def _files_under(top):
    found = set()
    for dirpath, dirnames, filenames in os.walk(top):
        for name in filenames:
            found.add(os.path.relpath(os.path.join(dirpath, name), top))
    return found


# What `juju deploy <dir>` leaves out of the charm archive: juju/charm dir.go, defaultJujuIgnore
# (names without a slash at any depth, the others at the top only). Nothing else: bytecode
# (__pycache__) a charm ships reaches its units.
IGNORED_ANYWHERE = (".git", ".svn", ".hg", ".bzr", ".tox", ".jujuignore", CHARM_FILES)
IGNORED_AT_TOP = ("build", "revision", "version")


def archived(source):
    """``shutil.copytree``'s ignore for a charm directory, as Juju archives it."""
    top = os.path.abspath(source)

    def ignore(directory, names):
        skipped = {name for name in names if name in IGNORED_ANYWHERE}
        if os.path.abspath(directory) == top:
            skipped |= {name for name in names if name in IGNORED_AT_TOP
                        and (name != "build" or os.path.isdir(os.path.join(directory, name)))}
        return skipped
    return ignore


def install_charm(source, target, previous=None):
    """Copy a charm into an application's charm directory.

    Like Juju's charm deployer, an upgrade replaces the old charm's files but keeps every file the
    charm wrote itself (unit state, files of its background processes): ``previous`` is the old
    directory, and the list of files it got from its charm is kept beside them.
    """
    shutil.copytree(source, target, symlinks=True, ignore=archived(source))
    shipped = _files_under(target)
    if previous is not None:
        try:
            with open(os.path.join(previous, CHARM_FILES)) as handle:
                old_shipped = set(handle.read().splitlines())
        except OSError:
            old_shipped = set()
        for relative in sorted(_files_under(previous) - old_shipped - shipped - {CHARM_FILES}):
            destination = os.path.join(target, relative)
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            shutil.copy2(os.path.join(previous, relative), destination, follow_symlinks=False)
    with open(os.path.join(target, CHARM_FILES), "w") as handle:
        handle.write("\n".join(sorted(shipped)))


def replace_charm(source, target):
    """Upgrade the charm in ``target`` to ``source`` (keeping the files the charm wrote)."""
    new = target + ".new"
    shutil.rmtree(new, ignore_errors=True)
    install_charm(source, new, previous=target)
    store_charm(new, target)


class ArchiveError(ValueError):
    """A charm directory `juju deploy` refuses to archive; the message is Juju's."""


_FILE_TYPES = ((stat.S_ISFIFO, "file is a named pipe: %s"),
               (stat.S_ISSOCK, "file is a socket: %s"),
               (stat.S_ISBLK, "file is a device: %s"), (stat.S_ISCHR, "file is a device: %s"))


def check_archivable(source):
    """Raise :class:`ArchiveError` for what Juju refuses to put in a charm archive
    (juju/charm charmdir.go, ``ArchiveTo``: ``checkSymlinkTarget``, ``checkFileType``): a
    symlink with an absolute target or one that leads out of the charm, and any file that is
    not a regular file, a directory or a symlink. Ignored names are not looked at."""
    top = os.path.abspath(source)
    ignore = archived(source)
    for dirpath, dirnames, filenames in os.walk(top):
        skipped = ignore(dirpath, dirnames + filenames)
        dirnames[:] = [name for name in dirnames if name not in skipped]
        for name in dirnames + filenames:
            if name in skipped:
                continue
            path = os.path.join(dirpath, name)
            relative = os.path.relpath(path, top)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                target = os.readlink(path)
                if os.path.isabs(target):
                    raise ArchiveError("symlink %s is absolute: %s"
                                       % (json.dumps(relative), json.dumps(target)))
                joined = os.path.normpath(os.path.join(os.path.dirname(relative), target))
                if joined == ".." or joined.startswith("../"):
                    raise ArchiveError("symlink %s links out of charm: %s"
                                       % (json.dumps(relative), json.dumps(target)))
            elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                message = next((text for test, text in _FILE_TYPES if test(mode)),
                               "file has an unknown type: %s")
                raise ArchiveError(message % json.dumps(relative))


def stage_charm(source, staging):
    """Archive ``source`` into a new directory under ``staging``, as `juju deploy` uploads a
    charm before the controller records anything: the copy takes no model lock."""
    os.makedirs(staging, exist_ok=True)
    target = os.path.join(staging, "charm-%d-%d" % (os.getpid(), time.monotonic_ns()))
    try:
        install_charm(source, target)
    except OSError:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


def store_charm(staged, target):
    """Put a charm copied beside ``target`` in its place, replacing what was there."""
    old = target + ".old"
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(target):
        os.rename(target, old)
    os.rename(staged, target)
    shutil.rmtree(old, ignore_errors=True)
