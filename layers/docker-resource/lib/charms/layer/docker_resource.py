"""OCI image resources of podspec charms.

Typical use, for a resource declared ``type: oci-image`` and ``auto-fetch: true``::

    @when('layer.docker-resource.redis-image.available')
    def render_spec():
        info = layer.docker_resource.get_info('redis-image')
        ...  # imageDetails: {imagePath: info.registry_path, username: ..., password: ...}

Flags (``{name}`` is the resource name):

- ``layer.docker-resource.{name}.fetched``: a fetch was requested.
- ``layer.docker-resource.{name}.available``: :func:`get_info` returns current info.
- ``layer.docker-resource.{name}.failed``: the last fetch failed; retried on later hooks.
- ``layer.docker-resource.{name}.changed``: the image info differs from the previous
  fetch; set only in the hook that fetched it, cleared at the end of that hook.
"""

import hashlib
import json
import subprocess

import yaml
from charmhelpers.core import hookenv, unitdata

from charms.layer import options, status

FLAG = 'layer.docker-resource.{name}.{state}'
PENDING_FLAG = 'layer.docker-resource.pending'
AUTO_FETCHED_FLAG = 'layer.docker-resource.auto-fetched'
_PENDING_KEY = 'layer.docker-resource.pending'
_INFO_KEY = 'layer.docker-resource.info.{}'
_DIGEST_KEY = 'layer.docker-resource.digest.{}'
IMAGE_TYPES = ('oci-image', 'docker')


class DockerImageInfo:
    """Where to pull an image from, as ``resource-get`` reported it.

    Attributes:
        registry_path: fully qualified image path (registry/name:tag or @digest).
        username: registry user name, if any.
        password: registry password, if any (never shown by ``repr``).
    """

    def __init__(self, registry_path, username=None, password=None):
        self._registry_path = registry_path
        self._username = username
        self._password = password

    @property
    def registry_path(self):
        return self._registry_path

    @property
    def username(self):
        return self._username

    @property
    def password(self):
        return self._password

    def __eq__(self, other):
        return isinstance(other, DockerImageInfo) and self._as_dict() == other._as_dict()

    def __repr__(self):
        return 'DockerImageInfo(registry_path={!r}, username={!r})'.format(
            self._registry_path, self._username)

    def _as_dict(self):
        return {'registry_path': self._registry_path, 'username': self._username,
                'password': self._password}


class FetchError(Exception):
    """A resource is missing or its image file is unusable."""


def _flag(name, state):
    return FLAG.format(name=name, state=state)


def fetch(name):
    """Request that the image resource ``name`` be fetched (in this hook, by this layer).

    Sets ``layer.docker-resource.{name}.fetched``; ``.available`` or ``.failed`` follow.
    """
    from charms.reactive import set_flag
    kv = unitdata.kv()
    pending = kv.get(_PENDING_KEY, [])
    if name not in pending:
        kv.set(_PENDING_KEY, pending + [name])
    set_flag(_flag(name, 'fetched'))
    set_flag(PENDING_FLAG)


def get_info(name):
    """Return the :class:`DockerImageInfo` of resource ``name``, or None if never fetched."""
    data = unitdata.kv().get(_INFO_KEY.format(name))
    if not data:
        return None
    return DockerImageInfo(data['registry_path'], data.get('username'), data.get('password'))


def auto_fetch_resources(metadata=None):
    """Names of the image resources marked ``auto-fetch: true`` in metadata.yaml."""
    metadata = hookenv.metadata() if metadata is None else metadata
    resources = (metadata or {}).get('resources') or {}
    return sorted(name for name, spec in resources.items()
                  if (spec or {}).get('type') in IMAGE_TYPES and (spec or {}).get('auto-fetch'))


def fetched_resources():
    """Names of the resources for which a fetch was ever requested."""
    from charms.reactive import get_flags
    prefix, suffix = 'layer.docker-resource.', '.fetched'
    return sorted(f[len(prefix):-len(suffix)] for f in get_flags()
                  if f.startswith(prefix) and f.endswith(suffix))


def read_image_info(name):
    """Run ``resource-get`` for ``name`` and read the image file it points to.

    Raises:
        FetchError: the resource is missing, or its file is unreadable, not YAML, or has
            no ``registrypath``.
    """
    try:
        proc = subprocess.run(['resource-get', name], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    except OSError as e:
        raise FetchError('cannot run resource-get: {}'.format(e)) from None
    if proc.returncode != 0:
        raise FetchError('resource-get {} failed: {}'.format(
            name, proc.stderr.decode('utf-8', 'replace').strip()))
    path = proc.stdout.decode('utf-8', 'replace').strip()
    if not path:
        raise FetchError('resource-get {} printed no path'.format(name))
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except OSError as e:
        raise FetchError('cannot read {}: {}'.format(path, e.strerror)) from None
    except yaml.YAMLError:
        # The message could quote the file, which holds the registry password.
        raise FetchError('{} is not valid YAML'.format(path)) from None
    if not isinstance(data, dict) or not data.get('registrypath'):
        raise FetchError('{} has no registrypath'.format(path))
    return DockerImageInfo(str(data['registrypath']),
                           _optional_str(data.get('username')),
                           _optional_str(data.get('password')))


def _optional_str(value):
    return None if value is None else str(value)


def _digest(info):
    text = json.dumps(info._as_dict(), sort_keys=True)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def _set_status():
    value = options.get('docker-resource', 'set-status')
    return True if value is None else bool(value)


def process_pending():
    """Fetch every requested resource; called by this layer's reactive handler.

    Successful fetches set ``.available`` (and ``.changed`` when the info differs from
    the previous fetch); failures set ``.failed`` and stay pending, so later hooks retry.
    """
    from charms.reactive import clear_flag, is_flag_set, set_flag
    kv = unitdata.kv()
    report = _set_status()
    failed = []
    for name in kv.get(_PENDING_KEY, []):
        # A re-fetch of an available image (upgrade-charm) would leave the unit in
        # maintenance unless the charm happens to set its status again in that hook.
        if report and not is_flag_set(_flag(name, 'available')):
            status.maintenance('fetching resource: {}'.format(name))
        try:
            info = read_image_info(name)
        except FetchError as e:
            hookenv.log('unable to fetch resource {}: {}'.format(name, e), hookenv.ERROR)
            failed.append(name)
            clear_flag(_flag(name, 'available'))
            set_flag(_flag(name, 'failed'))
            continue
        digest = _digest(info)
        if kv.get(_DIGEST_KEY.format(name)) != digest:
            kv.set(_DIGEST_KEY.format(name), digest)
            set_flag(_flag(name, 'changed'))
            hookenv.atexit(clear_flag, _flag(name, 'changed'))
        kv.set(_INFO_KEY.format(name), info._as_dict())
        clear_flag(_flag(name, 'failed'))
        set_flag(_flag(name, 'available'))
    kv.set(_PENDING_KEY, failed)
    if failed:
        if report:
            status.blocked('unable to fetch resource(s): {}'.format(', '.join(failed)))
    else:
        clear_flag(PENDING_FLAG)
