"""Wires layer:caas-base into the reactive framework."""

from charmhelpers.core import hookenv

from charms.layer import caas_base

# Discovery imports this module after main() started and before it dispatches: the
# config flags are set once every handler and trigger is registered, so triggers on
# `config.changed.<opt>` fire (they did not when the flags were set before main()).
hookenv.atstart(caas_base.update_config_flags)
