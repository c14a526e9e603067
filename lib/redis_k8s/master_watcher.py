"""Follows sentinel events and runs a trigger command at once.

``+switch-master`` (a failover) is what matters most; ``+sdown``/``-sdown`` (a pod went down or came
back), role changes and new replicas also trigger, so that statuses do not wait for update-status
either. Bursts are coalesced. Some changes raise no sentinel event (a restarted replica's link
coming up, a pod coming back at the same role), so the watcher also polls every pod's replication
state and its sentinel's master every ``POLL_S`` seconds and triggers when they change. While they
look unsettled (a replica not linked, sentinels that disagree, a pod not answering) it triggers
again after ``RETRY_FIRST_S``, doubling up to ``RETRY_MAX_S``, so that the charm's heal step gets
another look at a state that no event will change.

Runs as a background process in the operator pod, one per application (started by the leader
from its own charm directory, see ``charms.layer.redis_k8s.ensure_watcher``; the leader stops any
other). Consumers would otherwise learn about a failover only at the next update-status, minutes
later. The process knows nothing about Juju: the command it runs on an event (``juju-run --operator
<leader unit> hooks/update-status``, in the operator: a plain ``juju-run`` would run in the unit's
workload pod, which has no charm and is down when a failover needs it) comes from its settings
file. That hook is also what stops a watcher whose unit no longer leads.

Settings file (JSON, mode 0600, re-read whenever it changes)::

    {"sentinels": ["host", ...], "port": 26379, "redis_port": 6379, "password": "...",
     "master_name": "...", "down_after_ms": 5000, "failover_timeout_ms": 30000,
     "trigger": ["juju-run", "--operator", "redis-k8s/0", "hooks/update-status"],
     "promotion_trigger": ["juju-run", "--operator", "redis-k8s/0",
                           "bin/update-status-unless-published {host}"],
     "publish_promoted": [["juju-run", "--operator", "redis-k8s/0", "bin/publish-promoted {host}"],
                          ...],
     "settle": [["juju-run", "--operator", "redis-k8s/1", "hooks/update-status"], ...]}

``trigger`` runs at once on every burst of events; ``settle`` commands run once things have been
quiet for ``SETTLED_AFTER_S`` (so every unit's status shows the end state, not a step on the way).
For a new master, with its host in place of ``{host}``: every ``publish_promoted`` command
(one per unit, optional) starts at once, and ``promotion_trigger`` (optional) then runs
instead of ``trigger``. The first are the charm's quick commands that move each unit's entry
without a hook (they queue for the lock together, ahead of the hook); the second skips the hook
when one already took the new master in (a hook that held the lock when the sentinels promoted
it), which would keep the other units' hooks waiting behind it.

A master that stops answering is the sentinels' to fail over: a hook run then would only spend
its time on timeouts against the dead master while the promotion it should publish waits behind
it. So after a master went down the watcher holds every trigger for ``down_after_ms`` plus
``HOLD_MARGIN_S``, until the sentinels promote a replica or the master answers again; what was
held runs when the hold ends.

A promotion is published as soon as it cannot be undone. In Redis 7.0's ``sentinel.c`` the
leading sentinel announces ``+promoted-slave`` when the replica it told to become master reports
role master in its INFO: in the same step it moves the failover from ``WAIT_PROMOTION`` to
``RECONF_SLAVES`` and sets the master's config epoch to the failover's, which the other
sentinels adopt (``sentinelRefreshInstanceInfo``). ``sentinelAbortFailover`` asserts
``failover_state <= WAIT_PROMOTION``: from ``+promoted-slave`` on, the failover only ends (all
replicas reconfigured, or ``+failover-end-for-timeout``) with ``+switch-master`` to that replica.
So ``+promoted-slave``, or ``+switch-master`` from whichever sentinel speaks first, triggers at
once, without the half-second a burst is otherwise given to gather. Up to a second earlier the
leading sentinel announces ``+failover-state-wait-promotion``: it has sent the replica ``SLAVEOF
NO ONE`` and waits for its next INFO, once a second, and from there only ``failover-timeout``
aborts (``sentinelFailoverWaitPromotion``). The watcher then asks the replica itself until it
answers role master (``PROMOTION_WAIT_S`` at most) and triggers at once, as the charm's
:func:`redis_k8s.rules.promoted` then takes it; not when the failover timeout is too short for
the charm to take it (``EARLY_PROMOTION_MIN_TIMEOUT_MS``). The same switch announced by
the other sentinels (and the role and replica changes that follow it) is not a new trigger: for
``FOLLOW_S`` after it, or as long as one hook per other unit takes if the trigger's hook took
longer, those events are held and run one trigger at the end, so that the hooks of
the other units, which publish the new master to their own consumers, are not kept waiting
behind a second hook of this one (a unit's hooks run one at a time per operator, whichever unit
takes the lock). A promotion of another replica is not held. Nor does a new master wait for
a command already running (a settle pass, a status refresh): that one is left to end on its own
and the trigger starts at once, queued for the lock right away.

On ``+switch-master`` it also makes the old master a replica of the new one as soon as a majority
of the sentinels name the new one, without waiting for a hook (:mod:`redis_k8s.demotion`).

Usage: ``python3 -m redis_k8s.master_watcher SETTINGS_FILE``
"""

import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time

import redis

from . import connection, demotion, rules, sentinel_reset

RECONNECT_DELAY_S = 1.0
SETTLE_S = 0.1
SETTLED_AFTER_S = 5.0
POLL_S = 2.0
RETRY_FIRST_S = 10.0
RETRY_MAX_S = 300.0
HOLD_MARGIN_S = 5.0
FOLLOW_S = 3.0  # after a new master was triggered: the other units' hooks follow it meanwhile
PROMOTION_WAIT_S = 2.0  # the sentinel itself sees the promotion within a second
PROMOTION_POLL_S = 0.02
# How long the trigger waits for the quick publishing commands to end before it queues for the
# lock itself (they wait for it behind any hook that was running).
PUBLISH_WAIT_S = 2.0
WAIT_PROMOTION = '+failover-state-wait-promotion'
NO_GOOD_REPLICA = '-failover-abort-no-good-slave'
NOT_ELECTED = '-failover-abort-not-elected'
ABORTS = (NO_GOOD_REPLICA, NOT_ELECTED)
CHANNELS = ('+switch-master', '+promoted-slave', '+sdown', '+odown', '-sdown', '+convert-to-slave',
            '+role-change', '+slave', WAIT_PROMOTION) + ABORTS
# After NO_GOOD_REPLICA: while the master is down the sentinel asks the replicas for INFO every
# second, so one it found too old is fresh again about a second later. After NOT_ELECTED: the
# other candidates of a split vote give up within Sentinel's start desync (up to a second).
RETRY_FAILOVER_AFTER_S = 1.5
RETRY_FAILOVER_FOR_S = 10.0
# One failover retry at a time: two sentinels forced at once could promote two replicas in one
# epoch (both would take the next), which the sentinels could not reconcile.
_RETRYING = threading.Lock()

HOST_PLACEHOLDER = '{host}'
# What a host announced by a sentinel may be put into a command as (a host name or an IPv4 or
# IPv6 address): nothing a shell would read as more than one word.
_PLAIN_HOST = re.compile(r'^[A-Za-z0-9][A-Za-z0-9.:-]*$')

# What an event asks of the watcher (see ``kind_of``).
URGENT = 'urgent'  # a new master: trigger now, whatever is held
MASTER_DOWN = 'master-down'  # the sentinels are about to fail over: hold triggers
MASTER_UP = 'master-up'  # the master answers again: no failover is coming
CHANGE = 'change'  # anything else: trigger, unless held


class Settings:
    """The watcher's settings, reloaded when the file's modification time changes."""

    def __init__(self, path):
        self.path = path
        self.mtime = None
        self.data = {}

    def reload(self):
        """Re-read the file; True when it changed (or could not be read and was readable before)."""
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return False
        if mtime == self.mtime:
            return False
        with open(self.path) as handle:
            self.data = json.load(handle)
        self.mtime = mtime
        # The charm's TLS files and mode (None: plain TCP only): every later connection uses them.
        tls = self.data.get('tls')
        connection.configure_tls(connection.Tls(**tls) if tls else None)
        return True


def concerns(message, master_name):
    """Whether a sentinel event is about our master group.

    ``+switch-master`` says ``<name> <old-host> <old-port> <new-host> <new-port>``; the others say
    ``master <name> <host> <port>`` or ``<type> <id> <host> <port> @ <name> <host> <port>``.
    """
    fields = message.split()
    if not fields:
        return False
    if fields[0] == master_name:
        return True
    if fields[0] == 'master':
        return len(fields) > 1 and fields[1] == master_name
    return '@' in fields and fields[fields.index('@') + 1:][:1] == [master_name]


def kind_of(channel, message):
    """What a sentinel event about our master group asks of the watcher: a replica promoted
    (``+promoted-slave``) or ``+switch-master`` is URGENT; the master subjectively or objectively
    down is MASTER_DOWN; the master no longer down is MASTER_UP; the rest is a CHANGE."""
    about_master = message.split()[:1] == ['master']
    if channel in ('+switch-master', '+promoted-slave'):
        return URGENT
    if channel in ('+sdown', '+odown') and about_master:
        return MASTER_DOWN
    if channel == '-sdown' and about_master:
        return MASTER_UP
    return CHANGE


def promoted_to(channel, message):
    """``(host, port)`` of the replica an URGENT event makes master, or None.

    ``+switch-master`` says ``<name> <old-host> <old-port> <new-host> <new-port>``;
    ``+promoted-slave`` says ``slave <host>:<port> <host> <port> @ <name> <master> <port>``.
    """
    fields = message.split()
    if channel == '+switch-master' and len(fields) >= 5:
        return fields[3], fields[4]
    if channel in ('+promoted-slave', WAIT_PROMOTION) and len(fields) >= 4:
        return fields[2], fields[3]
    return None


def await_promotion(message, data, events, stop):
    """After ``+failover-state-wait-promotion``: ask the replica named in ``message`` for its
    role until it answers master, then queue the event as URGENT. Nothing is queued when it does
    not within ``PROMOTION_WAIT_S`` (``+promoted-slave`` follows in the usual way)."""
    host, port = promoted_to(WAIT_PROMOTION, message)
    deadline = time.monotonic() + PROMOTION_WAIT_S
    client = None  # one connection for every ask (a TLS handshake each time would cost more)
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                if client is None:
                    client = connection.client(host, port, data.get('password'), timeout=0.5,
                                               connect_timeout=0.5)
                role = client.execute_command('ROLE')
            except (redis.RedisError, OSError):
                role = None
                if client is not None:
                    client.close()
                client = None
            if role and role[0] == 'master':
                print('{} heard {} {} (role master)'.format(stamp(), WAIT_PROMOTION, message),
                      flush=True)
                events.put((URGENT, '{} {}'.format(WAIT_PROMOTION, message)))
                return
            stop.wait(PROMOTION_POLL_S)
    finally:
        if client is not None:
            client.close()


def _quick_client(host, port, password):
    return connection.client(host, port, password, timeout=1, connect_timeout=1)


def sentinel_flags(host, data):
    """The flags the sentinel at ``host`` has for our master group, or None when it does not
    answer."""
    state = sentinel_reset.master_state(host, data, _quick_client)
    return None if state is None else set(str(state.get('flags', '')).split(','))


def retry_verdict(host, flags_by_host) -> str:
    """Whether the failover is started again on the sentinel at ``host`` now (``'force'``), or
    not yet: a sentinel is failing over (``'running'``), or too few see the master down
    (``'wait'``); from every pod's sentinel flags (None: it does not answer).

    Forced, a failover needs no election, so the watcher asks what an election would: a strict
    majority of the application's sentinels sees the master down, ``host`` objectively, and no
    sentinel is failing over (a split vote's other candidate may not have given up yet). A
    sentinel that just reconnected to a dead master clears its down flags until the next ping
    goes unanswered: not down now is not down for good.
    """
    answering = [flags for flags in flags_by_host.values() if flags is not None]
    if any('failover_in_progress' in flags for flags in answering):
        return 'running'
    down = sum(1 for flags in answering if flags & {'s_down', 'o_down'})
    target = flags_by_host.get(host)
    if target is None or 'o_down' not in target or down <= len(flags_by_host) // 2:
        return 'wait'
    return 'force'


def failover_candidates(host, flags_by_host) -> list:
    """The sentinels a failover may be forced on now, ``host`` (the one that aborted) first:
    those :func:`retry_verdict` says ``'force'`` for. A sentinel reset moments before the master
    went down knows no replica until the master's INFO lists them, which a dead master never
    sends: when such a sentinel leads the election it aborts with NOGOODSLAVE, and being the
    last leader it asks for votes first again two failover timeouts later, and wins, for as
    long as the master is down. Another sentinel that sees the master objectively down and
    knows the replicas can carry the failover instead."""
    others = sorted(h for h in flags_by_host if h != host)
    return [h for h in [host] + others if retry_verdict(h, flags_by_host) == 'force']


def retry_failover(host, data, stop, reason=NO_GOOD_REPLICA):
    """After a failover of the sentinel at ``host`` aborted (``reason``): start it again on that
    sentinel (``SENTINEL FAILOVER``) as soon as :func:`retry_verdict` says so, or, when it still
    knows no good replica (NOGOODSLAVE), on another sentinel the verdict allows
    (:func:`failover_candidates`), for ``RETRY_FAILOVER_FOR_S`` at most; Sentinel itself would
    try again only after twice ``failover-timeout`` (a minute by default), the master down all
    along.

    ``-failover-abort-no-good-slave``: Redis 7.0's ``sentinelSelectSlave`` skips a replica whose
    last INFO is older than 5 s while the master is down, and the sentinel asks replicas for INFO
    every 10 s until the master is objectively down: a leader elected before the first INFO of
    that state came back finds no replica. The sentinels that voted for it in that epoch do not
    start one of their own meanwhile (``sentinelVoteLeader`` sets their failover start time),
    so this failover, the quorum's, is the only one.

    ``-failover-abort-not-elected``: no candidate got a majority within the election timeout
    (``SENTINEL_ELECTION_TIMEOUT``, 10 s, or ``failover-timeout`` if shorter): a split vote, as
    when the master's pod is lost with its sentinel and the two left each vote for themselves,
    or votes counted for sentinels of removed pods. The candidates do not try again before twice
    ``failover-timeout`` either.

    Only one retry runs at a time (the caller holds ``_RETRYING``; released here).
    """
    try:
        name = data['master_name']
        deadline = time.monotonic() + RETRY_FAILOVER_FOR_S
        verdict = None
        stop.wait(RETRY_FAILOVER_AFTER_S)
        while not stop.is_set() and time.monotonic() < deadline:
            flags = {other: sentinel_flags(other, data) for other in data['sentinels']}
            verdict = retry_verdict(host, flags)
            for candidate in failover_candidates(host, flags):
                try:
                    connection.call(_quick_client, candidate, data['port'], data.get('password'),
                                    lambda client: client.execute_command('SENTINEL', 'FAILOVER', name))
                    print('{} failover started again on {} after {} on {}'.format(
                        stamp(), candidate, reason, host), flush=True)
                    return
                except redis.ResponseError as error:  # NOGOODSLAVE: replicas' INFO still old
                    print('{} failover not retried on {} yet: {}'.format(stamp(), candidate, error),
                          flush=True)
                except (redis.RedisError, OSError):
                    pass
            stop.wait(1.0)
        print('{} no failover retried on {} after {}: {}'.format(
            stamp(), host, reason, 'one is under way' if verdict == 'running' else
            'too few sentinels see the master down'), flush=True)
    finally:
        _RETRYING.release()


def takes_early_promotion(data) -> bool:
    """Whether the charm takes a replica that answers master before the sentinels see it
    (:func:`redis_k8s.rules.promoted`), with these watcher settings."""
    return int(data.get('failover_timeout_ms', 0)) >= rules.EARLY_PROMOTION_MIN_TIMEOUT_MS


def poll_kind(previous, current):
    """The kind of a change between two looks at the pods: MASTER_DOWN when the only change is
    that the pod the sentinels named as master stopped answering, MASTER_UP when a pod that did
    not answer is back as master, else CHANGE."""
    changed = [host for host in current if current[host] != previous.get(host)]
    named = {state[3][0] for state in previous.values() if state[3]}
    if changed and all(host in named and current[host][0] is None for host in changed):
        return MASTER_DOWN
    if any(previous.get(host, (None,))[0] is None and current[host][0] == 'master'
           for host in changed):
        return MASTER_UP
    return CHANGE


def subscribe(host, data, events, stop):
    """Relay one sentinel's events about our master group into ``events``."""
    while not stop.is_set():
        try:
            client = connection.client(host, data['port'], data.get('password'), timeout=None,
                                       connect_timeout=2, decode=False)
        except (redis.RedisError, OSError):
            stop.wait(RECONNECT_DELAY_S)
            continue
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(*CHANNELS)
            while not stop.is_set():
                message = pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                text = message['data'].decode()
                channel = message['channel'].decode()
                if concerns(text, data['master_name']):
                    if channel == WAIT_PROMOTION:
                        if takes_early_promotion(data):
                            threading.Thread(target=await_promotion, args=(text, data, events, stop),
                                             daemon=True).start()
                        continue
                    if channel in ABORTS and _RETRYING.acquire(blocking=False):
                        threading.Thread(target=retry_failover, args=(host, data, stop, channel),
                                         daemon=True).start()
                    kind = kind_of(channel, text)
                    if kind == URGENT:
                        print('{} heard {} {}'.format(stamp(), channel, text), flush=True)
                    events.put((kind, '{} {}'.format(channel, text)))
                    if channel == '+switch-master':  # the old master may wake up still master
                        demotion.DEMOTER.on_switch(text, data)
        except (redis.RedisError, OSError):
            pass  # the pod is gone or restarting: a switch is relayed by the other sentinels
        finally:
            try:
                pubsub.close()
                client.close()
            except (redis.RedisError, OSError):
                pass
        stop.wait(RECONNECT_DELAY_S)


def pod_state(host, data):
    """What a status shows of one pod: its redis role, master and replication link, and the
    master its sentinel names; ``None`` parts when unreachable."""
    def ask(port, question):
        try:
            client = connection.client(host, port, data.get('password'), timeout=1, connect_timeout=1)
        except (redis.RedisError, OSError):
            return None
        try:
            return question(client)
        except (redis.RedisError, OSError):
            return None
        finally:
            client.close()
    info = ask(data.get('redis_port', 6379), lambda c: c.info('replication')) or {}
    named = ask(data['port'], lambda c: c.execute_command(
        'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', data['master_name']))
    return (info.get('role'), info.get('master_host'), info.get('master_link_status'),
            tuple(named) if named else None)


def settled(states):
    """Whether pod states look final: every pod answers, replicas are linked, sentinels agree."""
    if not states:
        return True
    named = rules.unanimous({host: state[3] for host, state in states.items()})
    return (named is not None
            and all(state[0] == 'master' or (state[0] == 'slave' and state[2] == 'up')
                    for state in states.values()))


def poll_pods(data, events, stop):
    """Put an event into ``events`` whenever the pods' states change (not for the first look),
    and again, with a growing delay, while they stay unsettled."""
    previous = None
    retry_after, retry_at = RETRY_FIRST_S, None
    while not stop.is_set():
        current = {host: pod_state(host, data) for host in data.get('sentinels', [])}
        now = time.monotonic()
        if previous is not None and current != previous:
            changed = sorted(host.split('.', 1)[0] for host in current
                             if current[host] != previous.get(host))
            events.put((poll_kind(previous, current), 'pods changed: {}'.format(', '.join(changed))))
            retry_after, retry_at = RETRY_FIRST_S, now + RETRY_FIRST_S
        elif settled(current):
            retry_at = None
        elif retry_at is None:
            retry_at = now + retry_after
        elif now >= retry_at:
            events.put((CHANGE, 'pods still unsettled'))
            retry_after = min(retry_after * 2, RETRY_MAX_S)
            retry_at = now + retry_after
        previous = current
        stop.wait(POLL_S)


class Watcher:
    """One subscriber thread per sentinel; the main loop turns events into trigger runs."""

    def __init__(self, settings):
        self.settings = settings
        self.events = queue.Queue()
        self.stop = threading.Event()
        self.threads = []
        self.detached = []  # commands left running when a new master came
        self.subscribed_with = None  # the settings the subscribers run with
        self.resetting = None  # the thread resetting stale sentinels
        self.reset_served_at = None  # the request it serves (sentinel_reset.due)

    def restart_subscribers(self):
        data = {key: value for key, value in self.settings.data.items()
                if key != 'sentinel_resets'}
        if data == self.subscribed_with:
            return  # only a reset request came: the subscribers keep their connections
        self.subscribed_with = data
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=5)
        self.stop = threading.Event()
        data = dict(self.settings.data)
        self.threads = [threading.Thread(target=subscribe, args=(host, data, self.events, self.stop),
                                         daemon=True) for host in data.get('sentinels', [])]
        self.threads.append(threading.Thread(target=poll_pods, args=(data, self.events, self.stop),
                                             daemon=True))
        for thread in self.threads:
            thread.start()

    def run(self, command, reason, urgent=False):
        """Run ``command`` to its end; a command that is not ``urgent`` is left running in the
        background as soon as an URGENT event is queued, so that the main loop starts the new
        master's trigger at once instead of after it (Juju runs the two one after the other)."""
        self.detached = [process for process in self.detached if process.poll() is None]
        print('{} {}: running {}'.format(stamp(), reason, ' '.join(command)), flush=True)
        errors = tempfile.TemporaryFile()
        try:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
        except OSError as error:
            print('trigger failed: {}'.format(error), flush=True)
            errors.close()
            return
        deadline = time.monotonic() + 300
        while True:
            try:
                returncode = process.wait(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                if not urgent and self.urgent_queued():
                    print('{} left running: a new master is not kept waiting behind it'.format(
                        stamp()), flush=True)
                    self.detached.append(process)
                    errors.close()
                    return
                if time.monotonic() > deadline:
                    process.kill()
                    process.wait()
                    print('trigger failed: timed out', flush=True)
                    errors.close()
                    return
        if returncode != 0:
            errors.seek(0)
            print('trigger exited {}: {}'.format(returncode, errors.read().decode()[-500:]),
                  flush=True)
        else:
            print('{} done'.format(stamp()), flush=True)
        errors.close()

    def urgent_queued(self):
        """Whether an URGENT event waits in the queue."""
        with self.events.mutex:
            return any(kind == URGENT for kind, _ in self.events.queue)

    def run_trigger(self, reason, urgent=False):
        promoted = _promoted_by(reason) if urgent else None
        if promoted is not None:
            self.publish_at_once(reason, promoted)
        command = with_host(self.settings.data.get('promotion_trigger'), promoted)
        self.run(command or self.settings.data['trigger'], reason, urgent)

    def publish_at_once(self, reason, promoted):
        """Start every ``publish_promoted`` command for the new master ``promoted`` together, and
        wait ``PUBLISH_WAIT_S`` at most for them to end; one still waiting for the lock is left
        to end on its own."""
        commands = [with_host(template, promoted)
                    for template in self.settings.data.get('publish_promoted', [])]
        started = []
        for command in filter(None, commands):
            print('{} {}: running {}'.format(stamp(), reason, ' '.join(command)), flush=True)
            errors = tempfile.TemporaryFile()
            try:
                started.append((subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                                 stderr=errors), errors))
            except OSError as error:
                print('publishing failed: {}'.format(error), flush=True)
                errors.close()
        deadline = time.monotonic() + PUBLISH_WAIT_S
        for process, errors in started:
            try:
                returncode = process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.detached.append(process)
                errors.close()
                continue
            errors.seek(0)
            print('{} published'.format(stamp()) if returncode == 0 else
                  'publishing exited {}: {}'.format(returncode, errors.read().decode()[-500:]),
                  flush=True)
            errors.close()

    def hold_s(self):
        return int(self.settings.data.get('down_after_ms', 5000)) / 1000.0 + HOLD_MARGIN_S

    def next_burst(self):
        """The events of one burst (every sentinel announces the same event), or [] after a
        quiet half second. A burst that starts with a promotion is not given time to gather:
        it is published at once."""
        try:
            burst = [self.events.get(timeout=0.5)]
        except queue.Empty:
            return []
        if burst[0][0] != URGENT:
            time.sleep(SETTLE_S)
        while not self.events.empty():
            burst.append(self.events.get_nowait())
        return burst

    def serve(self):
        self.restart_subscribers()
        settle_at = None
        hold = Hold(self.hold_s())
        while True:
            if self.settings.reload():
                self.restart_subscribers()
                hold.hold_s = self.hold_s()
            self.serve_reset_request()
            burst = self.next_burst()
            now = time.monotonic()
            holding = hold.until is not None
            reason = hold.reason(burst, now)
            if hold.until is not None and not holding and hold.switched_to is None:
                print('{} master down: triggers held for {:.1f} s while the sentinels fail '
                      'over'.format(stamp(), hold.hold_s), flush=True)
            if reason is not None:
                urgent = any(kind == URGENT and text == reason for kind, text in burst)
                started = time.monotonic()
                self.run_trigger(reason, urgent)
                if urgent:
                    # The other units follow with a hook each, about as long as this one was.
                    others = max(0, len(self.settings.data.get('settle', [])) - 1)
                    hold.follow_for(others * (time.monotonic() - started), time.monotonic())
                settle_at = time.monotonic() + SETTLED_AFTER_S
            elif not burst and settle_at is not None and hold.until is None and now >= settle_at:
                settle_at = None if self.settle_pass() else time.monotonic() + SETTLED_AFTER_S

    def serve_reset_request(self):
        """Reset the sentinels the leader's hook found remembering removed pods
        (:mod:`redis_k8s.sentinel_reset`), in a thread of their own: the waits are long and
        the events must go on. One request at a time; a hook asks again if need be."""
        asked = self.settings.data.get('sentinel_resets')
        if not sentinel_reset.due(asked, self.reset_served_at, time.time()):
            return
        if self.resetting is not None and self.resetting.is_alive():
            return
        self.reset_served_at = float(asked['at'])
        print('{} resetting the sentinels that remember removed pods, one at a time: {}'.format(
            stamp(), ', '.join(asked['hosts'])), flush=True)
        self.resetting = threading.Thread(
            target=sentinel_reset.reset_in_turn, args=(asked['hosts'], dict(self.settings.data)),
            kwargs={'log': lambda text: print('{} {}'.format(stamp(), text), flush=True)},
            daemon=True)
        self.resetting.start()

    def settle_pass(self):
        """Run the settle commands one by one; stop early (False) when an event arrives, so a
        failover that starts during the pass is not kept waiting behind the other units' hooks."""
        for command in self.settings.data.get('settle', []):
            if not self.events.empty():
                return False
            self.run(command, 'settled')
        return True


class Hold:
    """Decides which burst of events runs the trigger: holding them while a failover is under
    way, and for ``follow_s`` after a new master was triggered.

    Args:
        hold_s: how long to hold after the master went down, at most.
        follow_s: how long to hold after a trigger for a new master.
    """

    def __init__(self, hold_s, follow_s=FOLLOW_S):
        self.hold_s = hold_s
        self.follow_s = follow_s
        self.until = None  # monotonic time the hold ends, None when not holding
        self.held = None  # the first event held
        self.promoted = None  # the master the last URGENT trigger was for
        self.switched_to = None  # the same, while its follow window lasts

    def reason(self, burst, now):
        """The reason to run the trigger now for ``burst`` (``[(kind, text), ...]``, maybe
        empty) at monotonic time ``now``, or None."""
        # Every sentinel announces the same switch, the leading one once more at its end: the
        # master already triggered for is no news.
        burst = [(kind, text) for kind, text in burst
                 if kind != URGENT or _promoted_by(text) != self.promoted]
        reason = next((text for kind, text in burst if kind == URGENT), None)
        if reason is not None:
            self.promoted = self.switched_to = _promoted_by(reason)
            self.until, self.held = now + self.follow_s, None
            return reason
        reason = next((text for kind, text in burst if kind == MASTER_UP), None)
        if reason is not None:
            self.until, self.held, self.switched_to = None, None, None
            return reason
        if any(kind == MASTER_DOWN for kind, _ in burst) and self.switched_to is not None:
            self.until, self.switched_to = None, None  # a new failover: hold for it from now
        if any(kind == MASTER_DOWN for kind, _ in burst) or (burst and self.until is not None):
            if self.until is None:
                self.until = now + self.hold_s
            self.held = self.held or burst[0][1]
        elif burst:
            return burst[-1][1]
        if self.until is not None and now >= self.until:
            reason = None if self.held is None else '{} (held)'.format(self.held)
            self.until, self.held, self.switched_to = None, None, None
            return reason
        return None


    def follow_for(self, seconds, now):
        """Keep the follow window of the last new master open ``seconds`` from ``now`` at
        least (it lasts ``follow_s`` at least already)."""
        if self.switched_to is not None and self.until is not None:
            self.until = max(self.until, now + seconds)


def with_host(template, promoted):
    """The command ``template`` (a list, ``{host}`` in its parts) for the new master
    ``promoted`` (``(host, port)``), its host in place of ``{host}``; None without a template,
    or when the host is not a plain host name or address."""
    if not template or promoted is None or not _PLAIN_HOST.match(promoted[0]):
        return None
    return [part.replace(HOST_PLACEHOLDER, promoted[0]) for part in template]


def _promoted_by(text):
    """The new master an URGENT event's text (``<channel> <message>``) names, or None."""
    channel, _, message = text.partition(' ')
    return promoted_to(channel, message)


def stamp():
    """UTC time of day to the millisecond, for the log (timelines are read from it)."""
    now = time.time()
    return '{}.{:03d}'.format(time.strftime('%H:%M:%S', time.gmtime(now)),
                              int(now * 1000) % 1000)


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    settings = Settings(argv[1])
    while not settings.reload():
        time.sleep(RECONNECT_DELAY_S)
    Watcher(settings).serve()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
