"""What one bench run owns: a scratch directory, local models and processes, all released."""

import os
import shutil
import signal
import subprocess
import tempfile
import time

from localmodel.client import Model


class Session:
    """Creates models and processes for the bench and releases every one of them in :meth:`close`.

    Args:
        budget_s: wall-clock time the whole bench may take; phases ask :meth:`left` before starting.
    """

    def __init__(self, budget_s):
        self.started = time.monotonic()
        self.deadline = self.started + budget_s
        self.scratch = tempfile.mkdtemp(prefix='redis-k8s-bench-')
        self._models = []
        self._processes = []
        self._count = 0

    def left(self):
        return self.deadline - time.monotonic()

    def elapsed(self):
        return time.monotonic() - self.started

    def model(self, subnet, name):
        """A fresh local model in its own home under the scratch directory."""
        self._count += 1
        model = Model(os.path.join(self.scratch, 'model-{}-{}'.format(self._count, name)))
        self._models.append(model)
        # update-status at 60 s (as the functional tests) so that hook kind shows in the figures.
        model.up(model=name, subnet=subnet, update_status_interval=60, retry_delay=2)
        return model

    def release(self, model):
        if model in self._models:
            self._models.remove(model)
            model.down()

    def spawn(self, argv, log_name):
        """Start a process in its own session (so it can be stopped as a group, by its id)."""
        log = open(os.path.join(self.scratch, log_name), 'wb')
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self._processes.append(process)
        return process

    def stop(self, process):
        if process not in self._processes:
            return
        self._processes.remove(process)
        for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            if process.poll() is not None:
                break
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(wait_s)
            except subprocess.TimeoutExpired:
                continue

    def close(self, keep_scratch=False):
        """Stop every process and model this session started; returns what could not be released."""
        problems = []
        for process in list(self._processes):
            try:
                self.stop(process)
            except OSError as error:
                problems.append('process {}: {}'.format(process.pid, error))
        for model in list(self._models):
            try:
                self.release(model)
            except Exception as error:  # keep releasing the others
                problems.append('model {}: {}'.format(model.home, error))
        if not keep_scratch and not problems:
            shutil.rmtree(self.scratch, ignore_errors=True)
        return problems
