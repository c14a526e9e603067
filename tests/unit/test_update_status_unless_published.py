"""bin/update-status-unless-published, run by the master watcher through juju-run for a new
master: update-status unless this unit's entry on every redis relation already names it. The hook
tools and the hook are fakes on PATH and in a charm directory; the real script runs."""

import os
import shutil
import stat
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, 'bin', 'update-status-unless-published')
NEW = 'r-1.r-endpoints.m.svc.cluster.local'
OLD = 'r-0.r-endpoints.m.svc.cluster.local'


def executable(path, text):
    path.write_text('#!/bin/sh\n' + text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def unit(tmp_path):
    """A charm directory whose update-status records that it ran, and hook tools answering from
    ``relations`` (relation id -> this unit's published host); ``run(host)`` runs the script."""
    charm = tmp_path / 'charm'
    (charm / 'hooks').mkdir(parents=True)
    (charm / 'bin').mkdir()
    shutil.copy(SCRIPT, charm / 'bin')
    executable(charm / 'hooks' / 'update-status', 'echo ran >> "$RECORD"\n')
    tools = tmp_path / 'tools'
    tools.mkdir()
    relations = {}

    def run(host, fail=None):
        listing = ' '.join(relations)
        executable(tools / 'relation-ids',
                   '[ "$1" = redis ] || exit 2\n' + ('exit 1\n' if fail == 'relation-ids'
                                                     else 'for id in {}; do echo $id; done\n'
                                                     .format(listing)))
        cases = ''.join('  {}) echo "{}";;\n'.format(rid, published)
                        for rid, published in relations.items())
        executable(tools / 'relation-get',
                   ('exit 1\n' if fail == 'relation-get' else '') +
                   '[ "$3" = host ] && [ "$4" = r/0 ] || exit 2\ncase "$2" in\n' + cases +
                   '  *) exit 1;;\nesac\n')
        record = tmp_path / 'record'
        if record.exists():
            record.unlink()
        env = {'PATH': '{}:/usr/bin:/bin'.format(tools), 'JUJU_UNIT_NAME': 'r/0',
               'RECORD': str(record)}
        result = subprocess.run(['bash', '-c', 'bin/update-status-unless-published ' + host],
                                cwd=str(charm), env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return record.exists()
    run.relations = relations
    return run


def test_no_hook_when_every_redis_relation_already_names_the_new_master(unit):
    unit.relations.update({'redis:3': NEW, 'redis:7': NEW})
    assert unit(NEW) is False


def test_update_status_runs_while_a_relation_still_names_another_host(unit):
    unit.relations.update({'redis:3': NEW, 'redis:7': OLD})
    assert unit(NEW) is True


def test_update_status_runs_without_a_redis_relation(unit):
    assert unit(NEW) is True


@pytest.mark.parametrize('tool', ['relation-ids', 'relation-get'])
def test_update_status_runs_when_a_hook_tool_fails(unit, tool):
    unit.relations.update({'redis:3': NEW})
    assert unit(NEW, fail=tool) is True
