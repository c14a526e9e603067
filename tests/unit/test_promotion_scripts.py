"""The commands the master watcher runs through juju-run for a new master: bin/publish-promoted
on every unit (its entries name the new master at once) and bin/update-status-unless-published
on the leader. The hook tools and the hook are fakes on PATH and in a charm directory, keeping
the relation data in files; the real scripts run."""

import json
import os
import shutil
import stat
import subprocess

import pytest

from redis_k8s import relation

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NEW = 'r-1.r-endpoints.m.svc.cluster.local'
OLD = 'r-0.r-endpoints.m.svc.cluster.local'

# Relation data as files: <data>/<relation id>.json holds this unit's entry; leader-get reads
# <data>/leader.json. A tool named in $FAIL exits 1.
TOOLS = {
    'relation-ids': '[ "$1" = redis ] || exit 2\nls "$DATA" | sed -n "s/^\\(redis:[0-9]*\\)'
                    '\\.json$/\\1/p"\n',
    'relation-get': '[ "$1" = -r ] && [ "$4" = "$JUJU_UNIT_NAME" ] || exit 2\n'
                    'python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], '
                    '\'\'))" "$DATA/$2.json" "$3"\n',
    'relation-set': '[ "$1" = -r ] || exit 2\nid=$2; shift 2\n'
                    'python3 -c "import json,sys; p=sys.argv[1]; d=json.load(open(p)); '
                    'd.update(a.split(\'=\', 1) for a in sys.argv[2:]); json.dump(d, open(p, \'w\'))" '
                    '"$DATA/$id.json" "$@"\necho "$id $*" >> "$DATA/sets"\n',
    'leader-get': 'python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], '
                  '\'\'))" "$DATA/leader.json" "$1"\n',
}


def executable(path, text):
    path.write_text('#!/bin/sh\n' + text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def unit(tmp_path):
    """A unit's charm directory (its update-status records that it ran), its relation data
    (``unit.entries``: relation id -> entry; ``unit.leader``: leader data) and ``unit.run``."""
    charm, tools, data = tmp_path / 'charm', tmp_path / 'tools', tmp_path / 'data'
    (charm / 'hooks').mkdir(parents=True)
    shutil.copytree(os.path.join(ROOT, 'bin'), charm / 'bin')
    executable(charm / 'hooks' / 'update-status', 'echo ran >> "$DATA/hook"\n')
    tools.mkdir()
    data.mkdir()
    for name, text in TOOLS.items():
        executable(tools / name, '[ "${FAIL:-}" = ' + name + ' ] && exit 1\n' + text)

    class Unit:
        entries = {}
        leader = {}
        marker = charm / '.promoted-published'

        def run(self, command, fail=''):
            for rid, entry in self.entries.items():
                (data / '{}.json'.format(rid)).write_text(json.dumps(entry))
            (data / 'leader.json').write_text(json.dumps(self.leader))
            env = {'PATH': '{}:/usr/bin:/bin'.format(tools), 'JUJU_UNIT_NAME': 'r/0',
                   'DATA': str(data), 'FAIL': fail}
            result = subprocess.run(['bash', '-c', command], cwd=str(charm), env=env,
                                    capture_output=True, text=True)
            self.entries = {rid: json.loads((data / '{}.json'.format(rid)).read_text())
                            for rid in self.entries}
            self.sets = (data / 'sets').read_text().splitlines() if (data / 'sets').exists() else []
            self.hook_ran = (data / 'hook').exists()
            return result.returncode
    return Unit()


def entry(host):
    return {'host': host, 'hostname': host, 'port': '6379', 'password': 'p'}


def test_publish_promoted_moves_the_master_keys_of_every_entry_and_notes_it(unit):
    unit.entries = {'redis:3': entry(OLD), 'redis:7': entry(OLD)}
    assert unit.run('bin/publish-promoted ' + NEW) == 0
    assert unit.entries == {'redis:3': entry(NEW), 'redis:7': entry(NEW)}
    assert unit.marker.read_text().strip() == NEW
    assert not unit.hook_ran


def test_publish_promoted_moves_exactly_what_the_master_decides_in_the_payload():
    def payload(host):
        return relation.payload(host, 6379, 'p', ['a', 'b'], 26379, 'r')
    moved = {key for key, value in payload(NEW).items() if payload(OLD)[key] != value}
    assert moved == set(relation.MASTER_KEYS)
    script = open(os.path.join(ROOT, 'bin', 'publish-promoted')).read()
    assert 'relation-set -r "$id" {}'.format(
        ' '.join('{}="$host"'.format(key) for key in relation.MASTER_KEYS)) in script


def test_publish_promoted_leaves_an_entry_naming_no_master_to_the_hooks(unit):
    unit.entries = {'redis:3': {}, 'redis:7': entry(NEW)}
    assert unit.run('bin/publish-promoted ' + NEW) == 0
    assert unit.entries == {'redis:3': {}, 'redis:7': entry(NEW)}
    assert unit.sets == []
    assert not unit.marker.exists()


@pytest.mark.parametrize('tool', ['relation-ids', 'relation-get'])
def test_publish_promoted_fails_when_it_cannot_read_the_entries(unit, tool):
    unit.entries = {'redis:3': entry(OLD)}
    assert unit.run('bin/publish-promoted ' + NEW, fail=tool) != 0
    assert not unit.marker.exists()


def test_the_note_comes_before_any_move_so_hooks_hold_whatever_part_was_committed(unit):
    # Whatever part of the moves a failing command leaves committed, the hooks hold it.
    unit.entries = {'redis:3': entry(OLD)}
    assert unit.run('bin/publish-promoted ' + NEW, fail='relation-set') != 0
    assert unit.marker.read_text().strip() == NEW


def test_no_hook_when_leader_data_already_names_the_new_master(unit):
    unit.leader = {'master-host': NEW}
    assert unit.run('bin/update-status-unless-published ' + NEW) == 0
    assert not unit.hook_ran


def test_update_status_runs_while_leader_data_names_another_master(unit):
    unit.leader = {'master-host': OLD}
    assert unit.run('bin/update-status-unless-published ' + NEW) == 0
    assert unit.hook_ran


def test_update_status_runs_when_leader_get_fails(unit):
    unit.leader = {'master-host': NEW}
    assert unit.run('bin/update-status-unless-published ' + NEW, fail='leader-get') == 0
    assert unit.hook_ran
