"""The printed table: each figure next to the issue's target."""


def _fmt(value, unit=''):
    if value is None:
        return 'n/a'
    if isinstance(value, float):
        return '{:.2f}{}'.format(value, unit)
    return '{}{}'.format(value, unit)


def rows(results):
    out = []
    failover = results.get('failover_visible_s') or {}
    out.append(('failover visible, median (s)', _fmt(failover.get('median')), '<= 5 s'))
    out.append(('failover visible, max (s)', _fmt(failover.get('max')),
                '({} runs, {} promoted, down-after {} ms)'.format(
                    failover.get('runs'), failover.get('runs_with_promotion'),
                    failover.get('down_after_ms'))))
    promotion = results.get('failover_promotion_s') or {}
    out.append(('failover with promotion (frozen master), median (s)',
                _fmt(promotion.get('median')), '<= 4 s'))
    out.append(('failover with promotion (frozen master), max (s)', _fmt(promotion.get('max')),
                '<= 5 s ({} runs)'.format(promotion.get('runs'))))
    agree = results.get('relation_agree_s') or {}
    out.append(('entries agree after a graceful delete, median / max (s)', '{} / {}'.format(
        _fmt(agree.get('median')), _fmt(agree.get('max'))), '<= 1.5 s'))
    targets = (results.get('writes_lost_detail') or {}).get('targets', {})
    for scenario, count in (results.get('writes_lost') or {}).items():
        target = targets.get(scenario)
        out.append(('writes lost: ' + scenario, _fmt(count),
                    'bounded (crash)' if target is None else str(target)))
    if 'partition_late_acks' in results:
        out.append(('partition: isolated master acks later than max-lag + 1 s',
                    _fmt(results['partition_late_acks']), '0'))
    healthy = results.get('writes_refused_healthy_detail') or {}
    out.append(('writes refused (NOREPLICAS), healthy cluster', _fmt(results.get(
        'writes_refused_healthy')), '0 ({} writes/s over {} s, min-replicas-max-lag {})'.format(
            healthy.get('writes_per_s'), healthy.get('window_s'), healthy.get('min_replicas_max_lag'))))
    out.append(('write fence closed the replicas\' links, healthy cluster',
                _fmt(healthy.get('fenced')), '0'))
    for kind, figure in (results.get('hook_s') or {}).items():
        out.append(('hook {} p50 / p95 (s)'.format(kind),
                    '{} / {}  (n={})'.format(_fmt(figure['p50']), _fmt(figure['p95']),
                                             figure.get('n')),
                    'p50 <= 0.35 s, p95 <= 1.0 s'))
    for run in results.get('hook_slowest') or []:
        out.append(('slowest hook: {} on {} (s)'.format(run['hook'], run['unit']), _fmt(run['s']),
                    '-'))
    for kind, figure in (results.get('hook_tool_calls') or {}).items():
        out.append(('hook {} tool calls p50 / max'.format(kind),
                    '{} / {}  (n={})'.format(figure['p50'], figure['max'], figure.get('n')),
                    '<= 8 (steady update-status, relation hooks)'))
    for units, seconds in (results.get('deploy_active_s') or {}).items():
        out.append(('deploy to all active, {} unit(s) (s)'.format(units), _fmt(seconds), '-'))
    build = results.get('build_s') or {}
    out.append(('charm build cold / warm (s)', '{} / {}'.format(
        _fmt(build.get('cold')), _fmt(build.get('warm'))), '-'))
    rounds = len((results.get('throughput_detail') or {}).get('bare_rps', []))
    out.append(('throughput ratio (deployed / bare, median of {} rounds)'.format(rounds),
                _fmt(results.get('throughput_ratio')), '>= 0.95'))
    detail = results.get('throughput_detail') or {}
    out.append(('throughput, bare master + 2 replicas (appendonly) / bare',
                _fmt(detail.get('bare_replicated_to_bare')), '- (the topology on this machine)'))
    out.append(('throughput, deployed / bare master + 2 replicas (appendonly)',
                _fmt(detail.get('deployed_to_bare_replicated')), '- (the charm beside it)'))
    rounds = len((results.get('tls_throughput_detail') or {}).get('plain_rps', []))
    out.append(('TLS throughput ratio (TLS master / plain master, median of {} rounds)'.format(
        rounds), _fmt(results.get('tls_throughput_ratio')), '- (the cost of TLS)'))
    return out


def table(results):
    lines = rows(results)
    widths = [max(len(row[i]) for row in lines + [('figure', 'measured', 'target')])
              for i in range(3)]
    text = []
    for row in [('figure', 'measured', 'target'), tuple('-' * w for w in widths)] + lines:
        text.append('  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    machine = results.get('machine', {})
    text.append('')
    text.append('machine: {} cores ({}); other load present: {}; bench took {} s'.format(
        machine.get('cores'), machine.get('cpu'), machine.get('other_load_present'),
        results.get('bench_s')))
    text.append('machine speed: python3 start {} s, reference workload {} s; hooks on Python {}: '
                'start {} s, reference workload {} s (hook figures scale with it)'.format(
                    machine.get('python_startup_s'), machine.get('cpu_reference_s'),
                    machine.get('hook_python'), machine.get('hook_python_startup_s'),
                    machine.get('hook_python_cpu_reference_s')))
    if results.get('errors'):
        text.append('errors: {}'.format('; '.join('{}: {}'.format(k, v)
                                                for k, v in results['errors'].items())))
    return '\n'.join(text)
