"""charms.reactive's account of flags and handler queues, without re-testing every handler at
every flag change.

charms.reactive installs its ``LogTracer`` in every hook. After each ``set_flag`` and
``clear_flag`` it tests every registered handler again to log which ones joined or left the
queue; each test reads all flags from the unit's database and decodes them. A leader's install
hook changes about 80 flags (config.changed.<opt> and friends) with some 20 handlers: about
1,800 handler tests, a third of that hook. ``FlagTracer`` logs the same lines except those
per-change queue lines: the flags set when dispatch starts, the queue of each dispatch phase,
every flag set or cleared, and (by charms.reactive itself) every handler invoked.
"""

from charmhelpers.core import hookenv
from charms.reactive import flags, trace


class FlagTracer(trace.NullTracer):
    """A charms.reactive tracer that logs flags and dispatch phases at DEBUG."""

    def __init__(self):
        self._lines = []

    def start_dispatch(self):
        current = flags.get_flags()
        self._line('starting handler dispatch, {} flags set'.format(len(current)))
        for flag in current:
            self._line('set flag {}'.format(flag))
        self._flush()

    def start_dispatch_phase(self, phase, handlers):
        if phase == 'other':
            self._line('main dispatch loop, {} handlers queued'.format(len(handlers)))
        else:
            self._line('{} phase, {} handlers queued'.format(phase, len(handlers)))
        for handler_id in sorted(handler.id() for handler in handlers):
            self._line('++   queue handler {}'.format(handler_id))
        self._flush()

    def set_flag(self, flag):
        self._line('set flag {}'.format(flag))
        self._flush()

    def clear_flag(self, flag):
        self._line('cleared flag {}'.format(flag))
        self._flush()

    def _line(self, text):
        self._lines.append('tracer: {}'.format(text))

    def _flush(self):
        if len(self._lines) > 1:
            self._lines.insert(0, 'tracer>')
        if self._lines:
            hookenv.log('\n'.join(self._lines), hookenv.DEBUG)
        self._lines = []


def install():
    """Use :class:`FlagTracer` in this hook instead of charms.reactive's ``LogTracer``.

    Register it with ``hookenv.atstart`` after charms.reactive was imported (its own
    ``atstart`` installs the ``LogTracer``; the later one wins), as layer:caas-base's
    reactive module does.
    """
    trace.install_tracer(FlagTracer())
