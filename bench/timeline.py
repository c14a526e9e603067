"""What happens between a fault and the consumers' relation data, on one clock.

A :class:`Timeline` records, on ``time.monotonic()``, while a fault plays out:

- every event the sentinels publish (a subscription of its own to each sentinel);
- every process of the model's operators (hooks, hook tools, ``juju-run``): its start, read from
  ``/proc/<pid>/stat`` (to the clock tick), and its end (to the poll interval);
- every change of the ``redis`` relation's unit entries and of the peer application record, as
  the model committed them (its state file);

and afterwards the master watcher's log (times to the millisecond). :func:`breakdown` turns one
failover's records into the parts of its time. Benchmarks only: nothing here is asserted.
"""

import datetime
import json
import os
import re
import threading
import time

import redis

from localmodel import hooktools

from testbed.cluster import APP, CONSUMER

POLL_S = 0.02
_TICK = os.sysconf('SC_CLK_TCK')
_HOOK = re.compile(r'(?:^|/)hooks/([a-z0-9-]+)$')
_WATCHER_LINE = re.compile(r'^(\d\d):(\d\d):(\d\d)\.(\d\d\d) (.*)$')


def _boot_offset():
    """``CLOCK_BOOTTIME - CLOCK_MONOTONIC`` now: process start times count from boot."""
    return time.clock_gettime(time.CLOCK_BOOTTIME) - time.monotonic()


def _wall_offset():
    return time.time() - time.monotonic()


class Timeline:
    """Records one fault's timeline for ``cluster`` (a :class:`testbed.cluster.Cluster`).

    Use as a context manager around the fault; then read :attr:`events`, :attr:`processes`,
    :attr:`entries`, :attr:`records` and :meth:`watcher_log`.
    """

    def __init__(self, cluster):
        self.cluster = cluster
        self.model = cluster.model
        self.marker = self.model.paths.marker.encode()
        self.events = []  # (t, pod, channel, message)
        self.processes = {}  # (pid, start) -> {'start', 'end', 'unit', 'argv'}
        self.entries = []  # (t, unit, host) of the redis relation's unit entries, as they change
        self.records = []  # (t, master-host, master-epoch) of the peer application data
        self._stop = threading.Event()
        self._threads = []
        self._boot = _boot_offset()

    def __enter__(self):
        self._present = {int(entry) for entry in os.listdir('/proc') if entry.isdigit()}
        self._threads = [threading.Thread(target=self._follow_processes, daemon=True),
                         threading.Thread(target=self._follow_state, daemon=True)]
        password = self.cluster.password()
        for pod in self.cluster.pods():
            self._threads.append(threading.Thread(target=self._follow_sentinel,
                                                  args=(pod, password), daemon=True))
        for thread in self._threads:
            thread.start()
        time.sleep(0.3)  # subscribed, and the first look at the state taken
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    # --- recorders ---------------------------------------------------------------------------

    def _follow_sentinel(self, pod, password):
        try:
            client = redis.Redis(host=self.model.pod_address(pod), port=26379, password=password,
                                 socket_timeout=None, socket_connect_timeout=2)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.psubscribe('*')
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=0.2)
                if message is not None and message['type'] == 'pmessage':
                    self.events.append((time.monotonic(), pod, message['channel'].decode(),
                                        message['data'].decode(errors='replace')))
        except (redis.RedisError, OSError, TypeError):
            return  # the pod went away: the other sentinels tell the rest

    def _follow_processes(self):
        alive = {}  # pid -> key in self.processes
        seen = self._present
        while not self._stop.is_set():
            now = time.monotonic()
            present = {int(entry) for entry in os.listdir('/proc') if entry.isdigit()}
            for pid in list(alive):
                argv = _argv(pid) if pid in present else None
                if argv is None:
                    self.processes[alive.pop(pid)]['end'] = now
                elif argv:
                    self.processes[alive[pid]]['argv'] = argv
            # Pids wrap around (pid_max may be 32768): a pid is new when it was not there
            # at the last look.
            for pid in present - seen:
                found = self._ours(pid)
                if found is not None:
                    key = (pid, found['start'])
                    self.processes[key] = found
                    alive[pid] = key
            seen = present
            self._stop.wait(POLL_S)

    def _ours(self, pid):
        try:
            with open('/proc/{}/environ'.format(pid), 'rb') as handle:
                environ = handle.read().split(b'\0')
            with open('/proc/{}/stat'.format(pid)) as handle:
                stat = handle.read()
        except OSError:
            return None
        if self.marker not in environ:
            return None
        unit = next((entry[len(b'JUJU_UNIT_NAME='):].decode() for entry in environ
                     if entry.startswith(b'JUJU_UNIT_NAME=')), None)
        if unit is None:
            return None
        ticks = int(stat.rsplit(')', 1)[1].split()[19])
        return {'start': ticks / _TICK - self._boot, 'end': None, 'unit': unit,
                'argv': _argv(pid) or []}

    def _follow_state(self):
        last_entries, last_record = {}, None
        while not self._stop.is_set():
            try:
                with open(self.model.paths.state) as handle:
                    state = json.load(handle)
            except (OSError, ValueError):
                self._stop.wait(POLL_S)
                continue
            now = time.monotonic()
            relations = state.get('relations', {})
            for rel in (relations.values() if isinstance(relations, dict) else relations):
                if rel.get('peer'):
                    data = rel['data']['apps'].get(APP, {})
                    record = (data.get('master-host'), data.get('master-epoch'))
                    if record != last_record and record[0]:
                        self.records.append((now,) + record)
                        last_record = record
                elif rel.get('interface') == 'redis':
                    for unit, data in rel['data']['units'].items():
                        if unit.startswith(APP + '/') and data.get('host') != \
                                last_entries.get(unit):
                            last_entries[unit] = data.get('host')
                            self.entries.append((now, unit, data.get('host')))
            self._stop.wait(POLL_S)

    # --- reading -----------------------------------------------------------------------------

    def calls(self):
        """``[(start, end, unit, kind, name)]`` of the processes seen, by start: kind ``hook``
        (name: the hook), ``tool`` (a hook tool, ``juju-run`` included) or ``other``."""
        out = []
        for process in self.processes.values():
            kind, name = _classify(process['argv'])
            out.append((process['start'], process['end'], process['unit'], kind, name))
        return sorted(out, key=lambda call: call[0])

    def watcher_log(self):
        """``[(t, text)]`` of the master watcher's log lines with a millisecond time."""
        pids = list(self.cluster.watchers())
        if not pids:
            return []
        try:
            with open('/proc/{}/cwd/.master-watcher.log'.format(pids[0])) as handle:
                lines = handle.read().splitlines()
        except OSError:
            return []
        offset = _wall_offset()
        today = datetime.datetime.now(datetime.timezone.utc).date()
        out = []
        for line in lines:
            found = _WATCHER_LINE.match(line)
            if not found:
                continue
            hour, minute, second, milli = (int(part) for part in found.groups()[:4])
            wall = datetime.datetime(today.year, today.month, today.day, hour, minute, second,
                                     milli * 1000, tzinfo=datetime.timezone.utc).timestamp()
            out.append((wall - offset, found.group(5)))
        return out


def _argv(pid):
    """The command line of ``pid`` as a list; None when the process is gone."""
    try:
        with open('/proc/{}/cmdline'.format(pid), 'rb') as handle:
            data = handle.read()
    except OSError:
        return None
    if not os.path.exists('/proc/{}'.format(pid)):
        return None
    return [part.decode(errors='replace') for part in data.split(b'\0') if part]


def _classify(argv):
    # A tool first: the watcher's ``juju-run ... hooks/update-status`` names a hook too. A
    # tool runs as ``<tools>/<name> ...`` (the compiled client; the Python one stands in as
    # ``python3 -IS <tools>/<name> ...``). The compiled one often ends within the poll
    # interval: the per-hook tool figures of a timeline are a lower bound then (the model's
    # own count, ``hook_tool_calls``, is exact).
    script = next((arg for arg in argv[1:] if not arg.startswith('-')), '')
    for candidate in (script, argv[0] if argv else ''):
        if os.path.basename(candidate) in hooktools.NAMES:
            return 'tool', os.path.basename(candidate)
    for arg in argv:
        found = _HOOK.search(arg)
        if found and not arg.startswith('-'):
            return 'hook', found.group(1)
    return 'other', os.path.basename(argv[0]) if argv else ''


def _first(items, predicate, after=None):
    return next((item for item in items if (after is None or item[0] >= after)
                 and predicate(item)), None)


def _round(value):
    return None if value is None else round(value, 3)


def breakdown(timeline, moment, new_master_pod):
    """The parts of one failover's time, in seconds from ``moment`` (the fault), or None where
    a part was not seen.

    Returns a dict: the sentinels' own steps (``sdown``, ``odown``, ``elected``, ``promoted``,
    ``switch``); the watcher's (``watcher_heard``, ``trigger_start``, ``trigger_done``); the
    hook that published (``hook_start``, ``first_tool`` — python and charms.reactive loaded —,
    ``relation_set``, ``hook_end``); ``entry_moved`` (the first unit's entry names the new
    master in the model), ``entries_agree``; the consumer's ``relation-changed`` hook; and
    ``failover_aborts``, the ``-failover-abort-*`` events of a failover Sentinel gave up on.
    """
    events = sorted(timeline.events)
    calls = timeline.calls()

    def event(channel, about_master=None, after=moment):
        found = _first(events, lambda e: e[2] == channel and (
            about_master is None or e[3].startswith('master ') == about_master), after)
        return found[0] if found else None

    out = {
        'sdown': event('+sdown', True), 'odown': event('+odown', True),
        'elected': event('+elected-leader'), 'selected': event('+selected-slave'),
        'slaveof_noone': event('+failover-state-wait-promotion'),
        'promoted': event('+promoted-slave'), 'switch': event('+switch-master'),
    }
    log = [line for line in timeline.watcher_log() if line[0] >= moment - 1]
    heard = _first(log, lambda line: line[1].startswith('heard '))
    out['watcher_heard'] = heard[0] if heard else None
    start = _first(log, lambda line: ': running ' in line[1], heard[0] if heard else None)
    out['trigger_start'] = start[0] if start else None
    done = _first(log, lambda line: line[1] == 'done' or line[1].startswith('trigger exited'),
                  start[0] if start else None)
    out['trigger_done'] = done[0] if done else None
    out['trigger_reason'] = start[1].split(': running ')[0] if start else None

    hook = None
    if start is not None:
        client = _first(calls, lambda c: c[3] == 'tool' and c[4] == 'juju-run', start[0] - 0.05)
        out['juju_run_start'] = client[0] if client else None
        hook = _first(calls, lambda c: c[3] == 'hook' and c[2].startswith(APP + '/'),
                      start[0] - 0.05)
    if hook is not None:
        out['hook_unit'], out['hook'] = hook[2], hook[4]
        out['hook_start'], out['hook_end'] = hook[0], hook[1]
        inside = [c for c in calls if c[2] == hook[2] and c[3] == 'tool' and c[0] >= hook[0]
                  and (hook[1] is None or c[0] <= hook[1])]
        out['first_tool'] = inside[0][0] if inside else None
        sets = [c for c in inside if c[4] == 'relation-set']
        out['relation_set'] = sets[0][0] if sets else None
        out['tool_calls'] = len(inside)

    fqdn = '{}.'.format(new_master_pod)
    moves = [(t, unit) for t, unit, host in timeline.entries
             if t >= moment and host and host.startswith(fqdn)]
    out['entry_moved'] = moves[0][0] if moves else None
    units = {unit for _, unit, _ in timeline.entries}
    moved_units = {}
    for t, unit in moves:
        moved_units.setdefault(unit, t)
    out['entries_agree'] = max(moved_units.values()) \
        if moved_units and set(moved_units) == units else None
    out['entry_order'] = sorted(moved_units, key=moved_units.get)
    consumer = _first(calls, lambda c: c[3] == 'hook' and c[2] == CONSUMER + '/0'
                      and c[4] == 'redis-relation-changed', out['entry_moved'])
    out['consumer_hook_start'] = consumer[0] if consumer else None
    out['consumer_hook_end'] = consumer[1] if consumer else None
    # A failover Sentinel gave up on (it tries again after twice failover-timeout): which
    # sentinel, why, and when (seconds from the fault).
    out['failover_aborts'] = ['{:.3f} {} {} {}'.format(t - moment, pod, channel, message[:80])
                              for t, pod, channel, message in events
                              if t >= moment and channel.startswith('-failover-abort')]
    # What ran in the operator between the first entry and the last: the hooks in the way.
    if out['entry_moved'] is not None and out['entries_agree'] is not None:
        out['hooks_between'] = [
            '{} {} {:.3f}-{:.3f}'.format(c[2], c[4], c[0] - moment,
                                         (c[1] or c[0]) - moment)
            for c in calls if c[3] == 'hook' and c[2].startswith(APP + '/')
            and c[1] is not None and c[1] >= out['entry_moved'] - 0.05
            and c[0] <= out['entries_agree']]
    return {key: (_round(value - moment) if isinstance(value, float) else value)
            for key, value in out.items()}
