"""Wires layer:caas-base into the reactive framework."""

from charmhelpers.core import hookenv

from charms.layer import caas_base, flag_tracer

# Before anything sets a flag: charms.reactive's own tracer (installed by its own atstart,
# which runs earlier) tests every handler again at every flag change.
hookenv.atstart(flag_tracer.install)
# Discovery imports this module after main() started and before it dispatches: the
# config flags are set once every handler and trigger is registered, so triggers on
# `config.changed.<opt>` fire (they did not when the flags were set before main()).
hookenv.atstart(caas_base.update_config_flags)
