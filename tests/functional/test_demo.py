"""The README's main command, `make demo` (scripts/demo.sh), as a user runs it."""

import os
import subprocess

from conftest import ROOT

SUBNET = '127.89'


def subnet():
    if os.environ.get('TEST_SUBNET_BASE'):  # as the conftest moves every module's subnet
        return '127.{}'.format(int(os.environ['TEST_SUBNET_BASE']) + int(SUBNET.split('.')[1]) - 60)
    return SUBNET


def test_the_demo_deploys_relates_and_writes_a_key_through_the_consumers_endpoint(tmp_path):
    env = dict(os.environ, LOCALMODEL_HOME=str(tmp_path / 'model'), DEMO_SUBNET=subnet())
    try:
        done = subprocess.run(['bash', 'scripts/demo.sh'], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=900)
    finally:
        subprocess.run([os.path.join(ROOT, '.venv', 'bin', 'python'), '-m', 'localmodel', 'down'],
                       cwd=ROOT, env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert 'GET demo:greeting -> hello from redis-k8s' in done.stdout
    # The consumer was given the master and the sentinels; the password is never printed.
    assert 'host: redis-k8s-' in done.stdout and 'sentinel-hosts:' in done.stdout
    assert 'password' not in done.stdout.split('What redis-consumer/0 received')[1].split('A key')[0]
