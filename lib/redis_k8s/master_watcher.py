"""Follows sentinel events and runs a trigger command at once.

``+switch-master`` (a failover) is what matters most; ``+sdown``/``-sdown`` (a pod went down or came
back), role changes and new replicas also trigger, so that statuses do not wait for update-status
either. Bursts are coalesced. Some changes raise no sentinel event (a restarted replica's link
coming up, a pod coming back at the same role), so the watcher also polls every pod's replication
state and its sentinel's master every ``POLL_S`` seconds and triggers when they change. While they
look unsettled (a replica not linked, sentinels that disagree, a pod not answering) it triggers
again after ``RETRY_FIRST_S``, doubling up to ``RETRY_MAX_S``, so that the charm's heal step gets
another look at a state that no event will change.

Runs as a background process in the operator environment (started by the leader, see
``charms.layer.redis_k8s.ensure_watcher``). Consumers would otherwise learn about a failover only at
the next update-status, minutes later. The process knows nothing about Juju: the command it runs on
an event (``juju-run <leader unit> hooks/update-status``) comes from its settings file.

Settings file (JSON, mode 0600, re-read whenever it changes)::

    {"sentinels": ["host", ...], "port": 26379, "redis_port": 6379, "password": "...",
     "master_name": "...",
     "trigger": ["juju-run", "redis-k8s/0", "hooks/update-status"],
     "settle": [["juju-run", "redis-k8s/1", "hooks/update-status"], ...]}

``trigger`` runs at once on every burst of events; ``settle`` commands run once things have been
quiet for ``SETTLED_AFTER_S`` (so every unit's status shows the end state, not a step on the way).

Usage: ``python3 -m redis_k8s.master_watcher SETTINGS_FILE``
"""

import json
import os
import queue
import subprocess
import sys
import threading
import time

import redis

RECONNECT_DELAY_S = 1.0
SETTLE_S = 0.3
SETTLED_AFTER_S = 5.0
POLL_S = 2.0
RETRY_FIRST_S = 10.0
RETRY_MAX_S = 300.0
CHANNELS = ('+switch-master', '+sdown', '-sdown', '+convert-to-slave', '+role-change', '+slave')


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


def subscribe(host, data, events, stop):
    """Relay one sentinel's events about our master group into ``events``."""
    while not stop.is_set():
        client = redis.Redis(host=host, port=int(data['port']), password=data.get('password'),
                             socket_connect_timeout=2, socket_timeout=None)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(*CHANNELS)
            while not stop.is_set():
                message = pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                text = message['data'].decode()
                if concerns(text, data['master_name']):
                    events.put('{} {}'.format(message['channel'].decode(), text))
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
        client = redis.Redis(host=host, port=int(port), password=data.get('password'),
                             socket_connect_timeout=1, socket_timeout=1, decode_responses=True)
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
    named = {state[3] for state in states.values()}
    return (len(named) == 1 and None not in named
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
            events.put('pods changed: {}'.format(', '.join(changed)))
            retry_after, retry_at = RETRY_FIRST_S, now + RETRY_FIRST_S
        elif settled(current):
            retry_at = None
        elif retry_at is None:
            retry_at = now + retry_after
        elif now >= retry_at:
            events.put('pods still unsettled')
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

    def restart_subscribers(self):
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

    def run(self, command, reason):
        print('{} {}: running {}'.format(time.strftime('%H:%M:%S'), reason, ' '.join(command)),
              flush=True)
        try:
            result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    timeout=300)
        except (OSError, subprocess.TimeoutExpired) as error:
            print('trigger failed: {}'.format(error), flush=True)
            return
        if result.returncode != 0:
            print('trigger exited {}: {}'.format(result.returncode, result.stderr.decode()[-500:]),
                  flush=True)

    def run_trigger(self, reason):
        self.run(self.settings.data['trigger'], reason)

    def serve(self):
        self.restart_subscribers()
        settle_at = None
        while True:
            if self.settings.reload():
                self.restart_subscribers()
            try:
                event = self.events.get(timeout=0.5)
            except queue.Empty:
                if settle_at is not None and time.monotonic() >= settle_at:
                    settle_at = None
                    for command in self.settings.data.get('settle', []):
                        self.run(command, 'settled')
                continue
            # Every sentinel announces the same event: run the trigger once for the burst.
            time.sleep(SETTLE_S)
            while not self.events.empty():
                event = self.events.get_nowait()
            self.run_trigger(event)
            settle_at = time.monotonic() + SETTLED_AFTER_S


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
