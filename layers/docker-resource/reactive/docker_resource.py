"""Reactive handlers of layer:docker-resource."""

from charms.reactive import clear_flag, hook, set_flag, when, when_not

from charms.layer import docker_resource


@hook('upgrade-charm')
def refetch_on_upgrade():
    # A new image arrives with an upgrade (`juju attach-resource` / refresh): look again,
    # and pick up resources that newly declare auto-fetch.
    for name in docker_resource.fetched_resources():
        docker_resource.fetch(name)
    clear_flag(docker_resource.AUTO_FETCHED_FLAG)


@when_not(docker_resource.AUTO_FETCHED_FLAG)
def auto_fetch():
    for name in docker_resource.auto_fetch_resources():
        docker_resource.fetch(name)
    set_flag(docker_resource.AUTO_FETCHED_FLAG)


@when(docker_resource.PENDING_FLAG)
def fetch_pending():
    docker_resource.process_pending()
