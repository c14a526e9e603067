"""Facts about the machine the figures were measured on, and the other load on it."""

import os
import platform


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
    return {'cores': os.cpu_count(), 'cpu': _cpu_model(), 'kernel': platform.release(),
            'python': platform.python_version()}
