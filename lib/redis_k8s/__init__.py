"""Redis with Sentinel on Kubernetes: the charm's logic as plain, importable modules.

Nothing here imports a Juju tool, so every module is tested directly; the reactive handlers
call these functions with values they read from Juju.
"""
