"""``make bench``: measure redis-k8s on local models and write ``bench/results.json``.

    python -m bench [--budget SECONDS] [--runs N] [--only PHASE,...]

``BENCH_SUBNET`` / ``BENCH_DEPLOY_SUBNET`` move the two models (default 127.93 / 127.95), so a
second run on this machine uses addresses of its own.

Figures: consumer-visible failover time, acknowledged writes lost per fault (a partition of the
master included, with the writes it acknowledged too late), hook durations by
kind, deploy-to-active time at 1/3/5 units, charm build time, throughput against a bare
redis-server, throughput of a TLS master against a plain one. Benchmarks report; they do not assert targets. Exit 0 unless the bench broke.
"""

import argparse
import json
import os
import signal
import sys
import time
import traceback

import bench
from bench import (build, deploy_time, failover, hooks, losses, machine, partition, promotion,
                   report, throughput, tls_throughput, write_safety)
from bench.deployment import deploy
from bench.session import Session

# BENCH_SUBNET / BENCH_DEPLOY_SUBNET name the two models' subnets; else BENCH_SUBNET_BASE N
# gives 127.N and 127.N+2 (default 93: 127.93 and 127.95), e.g. beside another run.
SUBNET_BASE = int(os.environ.get('BENCH_SUBNET_BASE', '93'))
MAIN_SUBNET = os.environ.get('BENCH_SUBNET', '127.{}'.format(SUBNET_BASE))
DEPLOY_SUBNET = os.environ.get('BENCH_DEPLOY_SUBNET', '127.{}'.format(SUBNET_BASE + 2))
RESULTS = os.path.join(bench.ROOT, 'bench', 'results.json')


def _terminate(signum, frame):
    raise SystemExit(128 + signum)  # unwinds through the finally that releases everything


def run(session, results, errors, runs, only=None):
    def phase(name, function):
        if only and name not in only and name not in ('build', 'deploy 3 units + consumer'):
            return None
        print('bench: {} ({:.0f} s in)'.format(name, session.elapsed()), flush=True)
        try:
            return function()
        except Exception as error:
            errors[name] = '{}: {}'.format(type(error).__name__, str(error).splitlines()[0]
                                          if str(error) else '')
            traceback.print_exc()
            return None

    built = phase('build', lambda: build.measure(session))
    if not built:
        return
    results['build_s'], charms = built
    hook_runs = []

    model = session.model(MAIN_SUBNET, 'bench')
    try:
        deployed = phase('deploy 3 units + consumer', lambda: deploy(model, charms))
        if deployed:
            cluster, seconds = deployed
            results['main_deploy_healthy_s'] = round(seconds, 2)
            results['main_deploy_idle'] = cluster.deploy_idle
            measured = phase('throughput', lambda: throughput.measure(session, cluster))
            if measured:
                results['throughput_ratio'] = measured['throughput_ratio']
                results['throughput_detail'] = measured['detail']
            healthy = phase('writes refused, healthy cluster',
                            lambda: write_safety.refused_healthy(cluster))
            if healthy:
                results['writes_refused_healthy'] = healthy['refused']
                results['writes_refused_healthy_detail'] = healthy
            crashes = phase('failover', lambda: failover.measure(session, cluster, runs=runs))
            if crashes:
                results['failover_visible_s'], crash_lost = crashes
            else:
                crash_lost = []
            promoted = phase('failover with promotion',
                             lambda: promotion.measure(session, cluster, runs=runs))
            if promoted:
                results['failover_promotion_s'] = promoted
            frozen = phase('frozen master woken after the switch',
                           lambda: write_safety.frozen_woken(session, cluster))
            agreed = phase('relation agreement',
                           lambda: failover.measure_agreement(session, cluster, runs=runs))
            if agreed:
                results['relation_agree_s'] = agreed
            lost = phase('writes lost', lambda: losses.measure(session, cluster, crash_lost,
                                                               frozen))
            if lost:
                results['writes_lost'] = lost['counts']
                results['writes_lost_detail'] = lost
            parted = phase('partition', lambda: partition.measure(session, cluster))
            if parted:
                results.setdefault('writes_lost', {}).update(parted['writes_lost'])
                results['partition_late_acks'] = parted['late_acks']
                results['partition_detail'] = parted
            # Last on this model: a second application, with TLS on, beside the plain one.
            tls = phase('tls throughput', lambda: tls_throughput.measure(
                session, cluster, charms['redis-k8s']))
            if tls:
                results['tls_throughput_ratio'] = tls['tls_throughput_ratio']
                results['tls_throughput_detail'] = tls['detail']
        hook_runs.extend(hooks.collect(model))
    finally:
        session.release(model)

    sizes = phase('deploy to active', lambda: deploy_time.measure(
        session, charms['redis-k8s'], DEPLOY_SUBNET))
    if sizes:
        results['deploy_active_s'], more = sizes
        hook_runs.extend(more)
    results['hook_s'] = hooks.summarize(hook_runs)
    results['hook_target_p50_s'] = hooks.TARGET_P50_S
    results['hook_target_p95_s'] = hooks.TARGET_P95_S
    results['hook_tool_calls'] = hooks.summarize_calls(hook_runs)
    results['hook_slowest'] = hooks.slowest(hook_runs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--budget', type=float, default=2400,
                        help='seconds the bench may take; phases are skipped beyond it')
    parser.add_argument('--runs', type=int, default=5, help='failover runs (at least 5)')
    parser.add_argument('--only', default='',
                        help='comma-separated phases to run (the build and the deployments they '
                             'need run anyway), e.g. "throughput,failover with promotion"')
    args = parser.parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _terminate)

    results = {'machine': dict(machine.facts(), load_at_start=machine.load())}
    errors = {}
    session = Session(args.budget)
    broken = False
    try:
        run(session, results, errors, args.runs,
            {name.strip() for name in args.only.split(',') if name.strip()})
    except BaseException:
        broken = True
        traceback.print_exc()
        raise
    finally:
        problems = session.close(keep_scratch=bool(errors) or broken)
        if problems:
            errors['cleanup'] = '; '.join(problems)
        end = machine.load()
        start = results['machine']['load_at_start']
        results['machine']['load_at_end'] = end
        results['machine']['other_load_present'] = any(
            load['other_local_model_controllers'] or load['pytest_processes']
            for load in (start, end))
        results['bench_s'] = round(session.elapsed(), 1)
        results['measured_at'] = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
        results['errors'] = errors
        if errors or broken:
            results['scratch'] = session.scratch
        with open(RESULTS, 'w') as f:
            json.dump(results, f, indent=1, sort_keys=True)
        print(report.table(results))
        print('bench: wrote {}'.format(os.path.relpath(RESULTS)))
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
