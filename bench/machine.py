"""Facts about the machine the figures were measured on, and the other load on it."""

import os
import platform
import subprocess
import time

# A fixed pure-Python workload: this machine's speed varies (a shared VM), and hook figures
# follow it; two benches compare through this figure. Run by the host's python3 (the figure
# earlier benches kept) and by the Python the local model runs hooks with (3.8, as Juju 2.9's
# operator: localmodel.operatorpython), whose build (pyenv: no PGO, a shared libpython) may be
# slower than a distribution's.
_REFERENCE = 'n = 0\nfor i in range(2_000_000):\n    n += i % 7\n'


def speed(python='/usr/bin/python3', rounds=3):
    """Seconds (best of ``rounds``) for ``python -c pass`` and for the reference workload."""
    def best(code):
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            subprocess.run([python, '-c', code], check=True)
            times.append(time.perf_counter() - start)
        return round(min(times), 3)
    return {'python_startup_s': best('pass'), 'cpu_reference_s': best(_REFERENCE),
            'cpu_reference': '/usr/bin/python3 summing i % 7 over 2,000,000 integers, best of 3'}


def _cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            return next((line.split(':', 1)[1].strip() for line in f
                         if line.startswith('model name')), None)
    except OSError:
        return None


def _commands():
    out = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/{}/cmdline'.format(entry), 'rb') as f:
                    out.append(f.read().replace(b'\0', b' ').decode(errors='replace'))
            except OSError:
                pass
    return out


def load(own_homes=()):
    """Load average and the processes of other local models and redis servers now running."""
    commands = _commands()
    controllers = [c for c in commands if 'localmodel.controller' in c
                   and not any(home in c for home in own_homes)]
    redis = [c for c in commands if c.startswith('redis-server') or c.startswith('redis-sentinel')]
    return {'loadavg': list(os.getloadavg()), 'other_local_model_controllers': len(controllers),
            'redis_processes': len(redis), 'pytest_processes':
            sum(1 for c in commands if ' pytest' in c or c.startswith('pytest'))}


def facts():
    from localmodel import operatorpython
    python, version = operatorpython.choose()
    hooks = speed(python)
    return dict({'cores': os.cpu_count(), 'cpu': _cpu_model(), 'kernel': platform.release(),
                 'python': platform.python_version(),
                 'hook_python': '.'.join(map(str, version)),
                 'hook_python_startup_s': hooks['python_startup_s'],
                 'hook_python_cpu_reference_s': hooks['cpu_reference_s']}, **speed())
