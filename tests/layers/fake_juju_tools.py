"""Fake Juju hook tools for layer tests: one script, installed under each tool's name.

Usage as a tool: ``fake_juju_tools.py <tool> args...`` (the wrappers made by
:func:`install` do this). State lives in the JSON file ``$FAKE_JUJU_STATE``; every call is
appended to ``$FAKE_JUJU_CALLS`` (JSON lines: tool, args, stdin, unit).

State keys:
    config: config-get values.
    leader: list of leader unit names.
    resources: {name: path printed by resource-get}; a missing name fails like Juju.
    fail: {tool: {"rc": int, "stderr": str}} to make a tool fail.
    relations: [{"id": 1, "endpoints": {app: endpoint}, "units": [unit...],
                 "data": {unit: {key: value}}}], shared by every unit in the model.
"""

import fcntl
import json
import os
import sys

TOOLS = ('juju-log', 'status-set', 'status-get', 'config-get', 'resource-get',
         'pod-spec-set', 'pod-spec-get', 'k8s-raw-set', 'is-leader', 'leader-get',
         'leader-set', 'relation-ids', 'relation-list', 'relation-get', 'relation-set',
         'application-version-set', 'network-get', 'unit-get', 'open-port', 'close-port',
         'goal-state')


def install(bin_dir, python=sys.executable):
    """Write one executable per hook tool into ``bin_dir``."""
    os.makedirs(bin_dir, exist_ok=True)
    script = os.path.abspath(__file__)
    for tool in TOOLS:
        path = os.path.join(bin_dir, tool)
        with open(path, 'w') as f:
            f.write('#!/bin/sh\nexec {} {} {} "$@"\n'.format(python, script, tool))
        os.chmod(path, 0o755)


def read_calls(calls_file, tool=None):
    """Recorded calls (dicts), optionally only those of ``tool``."""
    if not os.path.exists(calls_file):
        return []
    with open(calls_file) as f:
        calls = [json.loads(line) for line in f if line.strip()]
    return [c for c in calls if tool is None or c['tool'] == tool]


class _State:
    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.lock = open(self.path + '.lock', 'w')
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        with open(self.path) as f:
            self.data = json.load(f)
        return self.data

    def __exit__(self, *exc):
        if exc[0] is None:
            with open(self.path + '.tmp', 'w') as f:
                json.dump(self.data, f, indent=1, sort_keys=True)
            os.replace(self.path + '.tmp', self.path)
        self.lock.close()


def _app(unit):
    return unit.split('/')[0]


def _relation(state, rid):
    number = int(rid.split(':')[-1])
    for rel in state.get('relations', []):
        if rel['id'] == number:
            return rel
    raise SystemExit('ERROR relation not found: {}'.format(rid))


def _opt(args, name):
    if name in args:
        i = args.index(name)
        value = args[i + 1]
        del args[i:i + 2]
        return value
    return None


def main(tool, args):
    unit = os.environ.get('JUJU_UNIT_NAME', 'unit/0')
    stdin = '' if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    with open(os.environ['FAKE_JUJU_CALLS'], 'a') as f:
        f.write(json.dumps({'tool': tool, 'args': args, 'stdin': stdin, 'unit': unit}) + '\n')
    with _State(os.environ['FAKE_JUJU_STATE']) as state:
        fail = state.get('fail', {}).get(tool)
        if fail:
            sys.stderr.write(fail.get('stderr', 'ERROR fake failure') + '\n')
            return fail.get('rc', 1)
        args = [a for a in args if a != '--format=json']
        if tool == 'relation-set' and args == ['--help']:
            print('usage: relation-set [options] key=value ... --file <path>')
        elif tool == 'config-get':
            print(json.dumps(state.get('config', {})))
        elif tool == 'is-leader':
            print(json.dumps(unit in state.get('leader', [])))
        elif tool == 'resource-get':
            path = state.get('resources', {}).get(args[0])
            if not path:
                sys.stderr.write('ERROR could not download resource: {}\n'.format(args[0]))
                return 1
            print(path)
        elif tool in ('pod-spec-set', 'k8s-raw-set'):
            if unit not in state.get('leader', []):
                sys.stderr.write('ERROR this unit is not the leader\n')
                return 1
            extra = _opt(list(args), '--k8s-resources')
            state.setdefault('specs', {})[tool] = stdin + (open(extra).read() if extra else '')
        elif tool == 'relation-ids':
            endpoint = args[0]
            print(json.dumps(['{}:{}'.format(endpoint, r['id'])
                              for r in state.get('relations', [])
                              if r['endpoints'].get(_app(unit)) == endpoint]))
        elif tool == 'relation-list':
            rel = _relation(state, _opt(args, '-r') or os.environ['JUJU_RELATION_ID'])
            print(json.dumps([u for u in rel['units'] if u != unit]))
        elif tool == 'relation-get':
            args = list(args)
            is_app = '--app' in args
            args = [a for a in args if a != '--app']
            rel = _relation(state, _opt(args, '-r') or os.environ['JUJU_RELATION_ID'])
            key, who = args[0], (args[1] if len(args) > 1 else os.environ['JUJU_REMOTE_UNIT'])
            data = rel.get('app_data' if is_app else 'data', {}).get(who, {})
            print(json.dumps(data if key == '-' else data.get(key)))
        elif tool == 'relation-set':
            args = list(args)
            is_app = '--app' in args
            args = [a for a in args if a != '--app']
            rel = _relation(state, _opt(args, '-r') or os.environ['JUJU_RELATION_ID'])
            settings = {}
            path = _opt(args, '--file')
            if path:
                import yaml
                with open(path) as f:
                    settings.update(yaml.safe_load(f) or {})
            for pair in args:
                key, _, value = pair.partition('=')
                settings[key] = value
            who = _app(unit) if is_app else unit
            data = rel.setdefault('app_data' if is_app else 'data', {}).setdefault(who, {})
            for key, value in settings.items():
                if value is None or value == '':
                    data.pop(key, None)
                else:
                    data[key] = str(value)
        elif tool == 'leader-get':
            data = state.get('leader_data', {})
            print(json.dumps(data.get(args[0]) if args and args[0] != '-' else data))
        elif tool == 'leader-set':
            for pair in args:
                key, _, value = pair.partition('=')
                state.setdefault('leader_data', {})[key] = value
        elif tool == 'goal-state':
            print(json.dumps({'units': {}, 'relations': {}}))
        elif tool in ('unit-get', 'network-get'):
            print(json.dumps(state.get('address', '127.0.0.1')))
        elif tool == 'status-set':
            state.setdefault('status', {})[unit] = args[-2:]
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2:]))
