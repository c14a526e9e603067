"""Fake Juju hook tools for the handler tests: tests/layers/fake_juju_tools.py, plus what the
charm's own handlers need of Juju 2.9 beyond the base layers.

Usage as a tool: ``hook_tools.py <tool> args...`` (the wrappers made by :func:`install`).
The state file and call log are fake_juju_tools'; the tools handled here instead of there:

- ``goal-state``: ``state["goal_units"]`` (unit names), each ``active``; the relations by
  endpoint (remote application and units), as Juju lists them.
- ``leader-set``: refused to a non-leader (``ERROR cannot write leadership settings``); an
  empty value deletes the key, as in Juju.
- ``status-set``: ``--application`` sets ``state["app_status"]``; else ``state["status"][unit]``.
- ``pod-spec-set``: leader only; the spec (stdin) and the ``--k8s-resources`` file are kept
  apart in ``state["pod_spec"]`` and ``state["k8s_resources"]``.
- ``pod-spec-get``: the spec last set.
- ``network-get``: the unit's pod address is its bind address (``unit/N`` runs in pod N, at
  :func:`fake_cluster.pod_address`), the Service's (``10.1.255.1``) its ingress address.
- ``juju-log``: appends the message to ``$FAKE_JUJU_LOG`` (see :data:`JUJU_LOG`).
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'layers'))

import fake_juju_tools  # noqa: E402

TOOLS = fake_juju_tools.TOOLS + ('pod-spec-get',)
SERVICE_ADDRESS = '10.1.255.1'
_OURS = ('goal-state', 'leader-set', 'status-set', 'pod-spec-set', 'pod-spec-get', 'juju-log',
         'network-get')


def _goal_relations(state, unit):
    """goal-state's ``relations``, as Juju 2.9 gives them: by this application's endpoint, the
    remote application (not for a peer relation) and each remote unit."""
    app = unit.split('/')[0]
    out = {}
    for relation in state.get('relations', []):
        endpoint = relation['endpoints'].get(app)
        if endpoint is None:
            continue
        entry = out.setdefault(endpoint, {})
        for remote in relation['endpoints']:
            if remote != app:
                entry[remote] = {'status': 'joined', 'since': ''}
        for name in relation.get('units', []):
            if name != unit:
                entry[name] = {'status': 'active', 'since': ''}
    return out


# juju-log runs dozens of times a hook (charms.reactive traces every flag): a shell script that
# appends the message to $FAKE_JUJU_LOG, records separated by RS (messages span lines).
JUJU_LOG = """#!/bin/sh
if [ "$1" = "-l" ] || [ "$1" = "--log-level" ]; then shift 2; fi
printf '%s\\036' "$*" >>"$FAKE_JUJU_LOG"
"""


def install(bin_dir, python=sys.executable):
    """Write one executable per hook tool into ``bin_dir``."""
    os.makedirs(bin_dir, exist_ok=True)
    script = os.path.abspath(__file__)
    for tool in TOOLS:
        path = os.path.join(bin_dir, tool)
        with open(path, 'w') as f:
            if tool == 'juju-log':
                f.write(JUJU_LOG)
            else:
                f.write('#!/bin/sh\nexec {} {} {} "$@"\n'.format(python, script, tool))
        os.chmod(path, 0o755)


def read_log(path):
    """The messages ``juju-log`` was given, in order."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [message for message in f.read().split('\036') if message]


def _option(args, name):
    if name in args:
        i = args.index(name)
        value = args[i + 1]
        del args[i:i + 2]
        return value
    return None


def main(tool, args):
    if tool not in _OURS:
        return fake_juju_tools.main(tool, args)
    if tool == 'juju-log':  # as JUJU_LOG does
        if args[:1] in (['-l'], ['--log-level']):
            args = args[2:]
        with open(os.environ['FAKE_JUJU_LOG'], 'a') as f:
            f.write(' '.join(args) + '\036')
        return 0
    unit = os.environ.get('JUJU_UNIT_NAME', 'unit/0')
    stdin = '' if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    with open(os.environ['FAKE_JUJU_CALLS'], 'a') as f:
        f.write(json.dumps({'tool': tool, 'args': args, 'stdin': stdin, 'unit': unit}) + '\n')
    args = [a for a in args if a != '--format=json']
    with fake_juju_tools._State(os.environ['FAKE_JUJU_STATE']) as state:
        leader = unit in state.get('leader', [])
        if tool == 'goal-state':
            print(json.dumps({'units': {name: {'status': 'active', 'since': ''}
                                        for name in state.get('goal_units', [])},
                              'relations': _goal_relations(state, unit)}))
        elif tool == 'leader-set':
            if not leader:
                sys.stderr.write('ERROR cannot write leadership settings: not the leader\n')
                return 1
            data = state.setdefault('leader_data', {})
            for pair in args:
                key, _, value = pair.partition('=')
                if value:
                    data[key] = value
                else:
                    data.pop(key, None)
        elif tool == 'status-set':
            application = '--application' in args
            args = [a for a in args if a != '--application']
            status = [args[0], args[1] if len(args) > 1 else '']
            if application:
                if not leader:
                    sys.stderr.write('ERROR this unit is not the leader\n')
                    return 1
                state['app_status'] = status
            else:
                state.setdefault('status', {})[unit] = status
        elif tool == 'pod-spec-set':
            if not leader:
                sys.stderr.write('ERROR this unit is not the leader\n')
                return 1
            resources = _option(args, '--k8s-resources')
            state['pod_spec'] = stdin
            if resources:
                with open(resources) as f:
                    state['k8s_resources'] = f.read()
            else:
                state.pop('k8s_resources', None)
        elif tool == 'network-get':
            import fake_cluster
            pod = fake_cluster.pod_address(int(unit.rsplit('/', 1)[1]))
            if '--bind-address' in args or '--primary-address' in args:
                print(pod)
            elif '--ingress-address' in args:
                print(SERVICE_ADDRESS)
            else:
                print(json.dumps({'bind-addresses': [{'addresses': [{'address': pod}]}],
                                  'ingress-addresses': [SERVICE_ADDRESS],
                                  'egress-subnets': [SERVICE_ADDRESS + '/32']}))
        elif tool == 'pod-spec-get':
            print(state.get('pod_spec', ''))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2:]))
