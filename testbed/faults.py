"""Faults injected into a redis-k8s on the local model, and what must hold once it has recovered.

Shared by the functional failover tests and the chaos soak: each fault function acts on a healthy
cluster and returns a :class:`Fault`; :func:`recover` waits for the cluster to be whole again, checks
the invariants every fault must leave behind and returns an :class:`Outcome` with what a client saw.
"""

import dataclasses
import os
import signal
import time

import redis

from localmodel.runtime import linux


@dataclasses.dataclass
class Fault:
    """What was done, to which pod, when (monotonic), and who was master before."""

    name: str
    old_master: str
    target: str
    at: float
    count: int  # units expected once recovered
    applied: object = None  # callable: True once the fault has taken effect (a pod replaced...)
    woken: float = None  # a frozen process: when it was woken (monotonic)


@dataclasses.dataclass
class Outcome:
    """What a client following the relation data saw across one fault."""

    fault: Fault
    new_master: str
    lost: list
    visible_s: float  # fault to the first acknowledged write after the first failed one
    failed_writes: int
    old_master_role: str  # role of the pod that was master before ("gone" when removed)
    # When writes were lost: the seconds (from the fault) their acknowledgements span, and the
    # endpoints the relation data named from the fault on, with the seconds they arrived.
    lost_window: tuple = ()
    relation_moves: tuple = ()


def kill_master_redis(cluster):
    """SIGKILL the master's redis container (a crash; it restarts at once)."""
    master = cluster.master_pod()
    restarted = _restarted(cluster, master, 'redis')
    at = time.monotonic()
    cluster.model.kill(master, 'redis')
    return Fault('kill-master-redis', master, master, at, len(cluster.pods()), restarted)


def crash_loop_master_redis(cluster, timeout=60):
    """SIGKILL the master's redis each time it is back, until the sentinels promote another pod.

    The restart backoff grows with every crash, so the sentinels soon see the master down for
    longer than down-after-milliseconds: the failover branch of a crash, made certain.
    """
    master = cluster.master_pod()
    at = time.monotonic()
    deadline = at + timeout
    while not _sentinels_moved_from(cluster, master):
        assert time.monotonic() < deadline, 'sentinels never failed {} over'.format(master)
        restarts = _container(cluster, master, 'redis')['restarts']
        cluster.model.kill(master, 'redis')
        cluster.model.wait_for(
            lambda status: _sentinels_moved_from(cluster, master) or (
                _container(cluster, master, 'redis')['restarts'] > restarts
                and _container(cluster, master, 'redis')['state'] == 'running'),
            timeout=timeout)
    return Fault('crash-loop-master-redis', master, master, at, len(cluster.pods()),
                 lambda: True)


def freeze_master_redis(cluster, timeout=60):
    """SIGSTOP the master's redis-server (a hung process or a partitioned node: it stays
    unreachable, unlike a crash) until the sentinels have promoted another pod, then SIGCONT it.

    The old master wakes up still believing it is master; the sentinels must turn it into a
    replica of the promoted one.
    """
    master = cluster.master_pod()
    pid, start = redis_server(cluster.model, master)
    os.kill(pid, signal.SIGSTOP)
    at = time.monotonic()
    try:
        cluster.model.wait_for(lambda status: _sentinels_moved_from(cluster, master),
                               timeout=timeout)
    finally:
        resume(pid, start)
    return Fault('freeze-master-redis', master, master, at, len(cluster.pods()), lambda: True,
                 woken=time.monotonic())


# Long enough for the sentinels to fail over (down-after-milliseconds 2000 in the bench and the
# soak, plus the election), short of the old master's full resync.
PARTITION_S = 10


def partition_master(cluster, seconds=PARTITION_S):
    """Cut the master's pod off from every other pod for ``seconds`` (both directions), then
    heal: a NetworkPolicy deny or a node cut off from the others' nodes, not a Juju operation.

    Clients that are not pods (this process, the operator) still reach it, so a consumer that
    keeps its connection keeps writing to it; the sentinels on the other pods promote a replica
    meanwhile, and after the heal they must turn the old master into a replica of the new one.
    """
    master = cluster.master_pod()
    at = time.monotonic()
    cluster.model.partition(master)
    try:
        time.sleep(max(0.0, at + seconds - time.monotonic()))
    finally:
        cluster.model.heal(master)
    return Fault('partition-master', master, master, at, len(cluster.pods()), lambda: True)


def redis_server(model, pod, port=6379):
    """``(pid, start time)`` of the pod's redis-server, found by its title (address and port).

    Not through ``model.processes()``: redis-server's process title overwrites its environment,
    and with it the model's marker.
    """
    title = 'redis-server {}:{}'.format(model.pod_address(pod), port)
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/{}/cmdline'.format(entry), 'rb') as handle:
                command = handle.read().replace(b'\0', b' ').decode(errors='replace').strip()
        except OSError:
            continue
        if command == title:
            return int(entry), linux.starttime(int(entry))
    raise RuntimeError('no redis-server process found for {}'.format(pod))


def resume(pid, start):
    """SIGCONT a process stopped earlier, unless it is gone (the liveness probe may have
    replaced it): never signal a reused pid."""
    if linux.alive(pid, start):
        os.kill(pid, signal.SIGCONT)


def _restarted(cluster, pod, container):
    """A predicate: ``container`` of ``pod`` has restarted since now."""
    before = _container(cluster, pod, container)['restarts']
    return lambda: _container(cluster, pod, container)['restarts'] > before


def _replaced(cluster, pods):
    """A predicate: every pod of ``pods`` is a new pod (new address) since now."""
    before = {pod: cluster.model.pod_address(pod) for pod in pods}
    return lambda: all(cluster.model.pod_address(pod) not in (None, address)
                       for pod, address in before.items())


def _container(cluster, pod, container):
    return cluster.model.status()['pods'][pod]['containers'][container]


def _sentinels_moved_from(cluster, pod):
    """A majority of the sentinels names a master other than ``pod``."""
    try:
        views = cluster.sentinel_masters()
    except (redis.RedisError, OSError):
        return False
    moved = [view for view in views.values() if view and cluster.pod_of(view[0]) != pod]
    return len(moved) > len(views) // 2


def delete_master_pod(cluster):
    """Delete the master's pod gracefully (SIGTERM, grace period); the pod is recreated."""
    master = cluster.master_pod()
    replaced = _replaced(cluster, [master])
    at = time.monotonic()
    cluster.model.delete_pod(master)
    return Fault('delete-master-pod', master, master, at, len(cluster.pods()), replaced)


def kill_sentinel(cluster, pod=None):
    """SIGKILL one sentinel container (the master pod's unless ``pod`` is given)."""
    master = cluster.master_pod()
    target = pod or master
    restarted = _restarted(cluster, target, 'sentinel')
    at = time.monotonic()
    cluster.model.kill(target, 'sentinel')
    return Fault('kill-sentinel', master, target, at, len(cluster.pods()), restarted)


def delete_all_pods(cluster):
    """Delete every pod at once (a whole-application restart)."""
    master = cluster.master_pod()
    pods = cluster.pods()
    replaced = _replaced(cluster, pods)
    at = time.monotonic()
    for pod in pods:
        cluster.model.delete_pod(pod)
    return Fault('delete-all-pods', master, ','.join(pods), at, len(pods), replaced)


def scale_down_master(cluster):
    """Scale down by one while the master is on the highest ordinal (see :func:`move_master`), so
    that the master's pod is the one removed."""
    pods = cluster.pods()
    target = pods[-1]
    assert cluster.master_pod() == target, 'move the master to {} first'.format(target)
    at = time.monotonic()
    cluster.model.scale(cluster.app, len(pods) - 1)
    return Fault('scale-down-master', target, target, at, len(pods) - 1,
                 lambda: target not in cluster.model.status()['pods'])


def move_master(cluster, target, timeout=90):
    """Fail over on purpose until ``target`` is the master every sentinel names.

    A plain SENTINEL FAILOVER does not pause the old master: call this with no client writing.
    Sentinel cannot be told whom to promote, so the other replicas get ``replica-priority 0`` (never
    promoted) for the time of the failover. Returns once every sentinel sees every replica
    promotable again, so that the next failover may pick any of them.
    """
    if cluster.master_pod() == target:
        return
    pods = cluster.pods()
    others = [pod for pod in pods if pod != target]
    sentinel = cluster.client(target, port=26379)
    try:
        for pod in others:
            cluster.client(pod).config_set('replica-priority', 0)
        eventually(cluster, lambda: _sentinel_sees_priorities(sentinel, cluster.app, target),
                   timeout, 'sentinel never saw the replica priorities')
        eventually(cluster, lambda: failover_started(sentinel, cluster.app), timeout,
                   'SENTINEL FAILOVER kept answering NOGOODSLAVE')
        eventually(cluster, lambda: cluster.healthy(len(pods)) == target, timeout,
                   'the failover towards {} did not happen'.format(target))
    finally:
        for pod in others:
            try:
                cluster.client(pod).config_set('replica-priority', 100)
            except redis.RedisError:
                pass
    eventually(cluster, lambda: all(_sentinel_sees_priorities(cluster.client(pod, port=26379),
                                                              cluster.app, None)
                                    for pod in pods), timeout,
               'sentinels still see replicas that cannot be promoted')


def failover_started(sentinel, app):
    """Whether ``SENTINEL FAILOVER`` started one (or one is under way). NOGOODSLAVE: not yet (the
    sentinel's last INFO of the target may be older than it accepts for a promotion)."""
    try:
        sentinel.execute_command('SENTINEL', 'FAILOVER', app)
    except redis.ResponseError as error:
        if str(error).startswith('NOGOODSLAVE'):
            return False
        if not str(error).startswith('INPROG'):
            raise
    return True


def _sentinel_sees_priorities(sentinel, app, target):
    """The sentinel's replica list: ``target`` promotable, every other replica not (every replica
    promotable when ``target`` is None)."""
    replicas = sentinel.execute_command('SENTINEL', 'REPLICAS', app)
    seen = {}
    for replica in replicas:
        fields = dict(zip(replica[::2], replica[1::2])) if isinstance(replica, list) else replica
        fields = {_text(k): _text(v) for k, v in fields.items()}
        seen[fields['ip'].split('.')[0]] = int(fields['slave-priority'])
    return bool(seen) and all((priority > 0) == (target is None or pod == target)
                              for pod, priority in seen.items())


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def recover(cluster, load, fault, timeout=180, relation_timeout=30, writes_timeout=30):
    """Wait until the cluster is whole again and check what every fault must leave behind.

    Exactly one master, every replica linked to it, every sentinel naming it, every unit active
    (``Cluster.healthy``); the relation data pointing at it within ``relation_timeout``; the load's
    writes succeeding again. The load is stopped, then the acknowledged writes the master lacks are
    counted (and the replicas must hold whatever the master holds).
    """
    # Right after the fault the cluster may still look healthy around the old master.
    eventually(cluster, fault.applied, timeout, '{} never took effect'.format(fault.name))
    master = eventually(cluster, lambda: cluster.healthy(fault.count), timeout,
                        'not healthy {}s after {}'.format(timeout, fault.name))
    eventually(cluster, lambda: cluster.relation_points_at(master), relation_timeout,
               'relation data does not name master {} {}s after recovery from {}'.format(
                   master, relation_timeout, fault.name))
    resumed = time.monotonic()
    eventually(cluster, lambda: load.first_success_after(resumed), writes_timeout,
               'no write acknowledged {}s after recovery from {}'.format(writes_timeout, fault.name))
    load.stop()
    moves = relation_moves(load, fault.at)
    assert load.endpoint[0] == master, 'relation data moved on from master {}: {}'.format(
        master, moves)
    # Once consumers are told about the new master, they are never sent anywhere else.
    arrived = next(index for index, pod in enumerate(moves) if pod == master)
    assert all(pod == master for pod in moves[arrived:]), \
        'relation data flapped after naming {}: {}'.format(master, moves)
    lost = load.lost(master)
    replicas = fault.count - 1
    if replicas:
        assert cluster.client(master).wait(replicas, 10000) == replicas
        for pod in cluster.pods():
            if pod != master:
                assert load.lost(pod) == lost, 'replica {} lacks writes its master has'.format(pod)
    lost_keys = set(lost)
    acknowledged = [at - fault.at for key, at in load.acknowledged if key in lost_keys]
    window = (round(min(acknowledged), 2), round(max(acknowledged), 2)) if acknowledged else ()
    timeline = tuple((round(at - fault.at, 2), pod) for at, (pod, port) in load.endpoints
                     if at > fault.at)
    return Outcome(fault, master, lost, visible_after(load, fault.at), failed_after(load, fault.at),
                   old_master_role(cluster, fault.old_master), window, timeline)


def every_entry_names(cluster, pod, timeout):
    """Wait until every redis unit's entry in the consumer's relation data names ``pod``: a
    legacy consumer (interface:redis ``relation_data()``) may take any of them."""
    def agree():
        data = cluster.all_relation_data()
        return len(data) == 3 and all(cluster.pod_of(entry.get('host', '')) == pod
                                      for entry in data)
    eventually(cluster, agree, timeout, 'not every unit publishes master {}: {}'.format(
        pod, cluster.all_relation_data()))


def eventually(cluster, predicate, timeout, message):
    """``predicate()``'s first truthy value within ``timeout`` seconds, else AssertionError."""
    def attempt(status):
        try:
            return predicate()
        except (AssertionError, redis.RedisError, OSError, KeyError):  # a pod or hook context away
            return None
    try:
        return cluster.model.wait_for(attempt, timeout=timeout)
    except TimeoutError:
        raise AssertionError('{}; pods: {}'.format(message, pod_summary(cluster))) from None


def pod_summary(cluster):
    """Role and link of every pod, for failure messages."""
    lines = []
    for pod in cluster.pods():
        try:
            info = cluster.client(pod).info('replication')
            lines.append('{} {} {}'.format(pod, info['role'], info.get(
                'master_host', 'replicas={}'.format(info.get('connected_slaves')))))
        except (redis.RedisError, OSError) as error:
            lines.append('{} unreachable ({})'.format(pod, error))
    return '; '.join(lines)


def relation_moves(load, moment):
    """The pods the relation data named from ``moment`` on, in order (the one it named then first)."""
    before = [pod for at, (pod, port) in load.endpoints if at <= moment][-1:]
    return before + [pod for at, (pod, port) in load.endpoints if at > moment]


def visible_after(load, moment):
    """Seconds from ``moment`` to the first acknowledged write after the first failed one."""
    failed = next((at for at in list(load.failures) if at > moment), None)
    if failed is None:
        return 0.0
    success = load.first_success_after(failed)
    return (success - moment) if success is not None else float('inf')


def failed_after(load, moment):
    return sum(1 for at in list(load.failures) if at > moment)


def old_master_role(cluster, pod):
    if pod not in cluster.pods():
        return 'gone'
    return cluster.client(pod).info('replication')['role']


def summary(outcome):
    """One line for logs and reports."""
    line = '{}: master {} -> {}, old master now {}, {} acknowledged writes lost, ' \
        '{} failed writes, writes back after {:.1f}s'.format(
            outcome.fault.name, outcome.fault.old_master, outcome.new_master,
            outcome.old_master_role, len(outcome.lost), outcome.failed_writes, outcome.visible_s)
    if outcome.lost:
        line += ' (lost writes acknowledged {}..{}s from the fault; relation moves {})'.format(
            outcome.lost_window[0], outcome.lost_window[1], list(outcome.relation_moves))
    return line


# A crash may lose what the master acknowledged after its replicas last caught up; with
# min-replicas-max-lag 10 s that is at most about 10 s of a WriteLoad (< 200 writes/s).
CRASH_LOSS_BOUND = 2000

# Planned stops hand the master role over (or save) before the process ends: nothing is lost.
GRACEFUL = ('delete-master-pod', 'delete-all-pods', 'scale-down-master', 'kill-sentinel')


def check(outcome, crash_loss_bound=CRASH_LOSS_BOUND):
    """What each kind of fault must leave behind, beyond what :func:`recover` checks."""
    fault = outcome.fault
    if fault.name == 'kill-sentinel':
        assert outcome.new_master == fault.old_master, 'a sentinel crash moved the master'
    if fault.name == 'scale-down-master':
        assert outcome.old_master_role == 'gone'
    elif outcome.new_master != fault.old_master:
        assert outcome.old_master_role == 'slave', 'the old master did not rejoin as a replica'
    if fault.name in GRACEFUL or outcome.new_master == fault.old_master:
        # Graceful, or a crashed master back before any failover: it restarts from its AOF, which
        # the kernel had before the client got its reply.
        assert outcome.lost == [], '{} lost {} acknowledged writes'.format(
            fault.name, len(outcome.lost))
    else:
        assert len(outcome.lost) <= crash_loss_bound, len(outcome.lost)
