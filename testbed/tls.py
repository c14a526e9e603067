"""How the test bed's own clients talk TLS to a redis-k8s: the CA from the relation, as a file.

The test process reaches pods by their loopback addresses (``127.S.x.y``), which no certificate
names (the charm's name the pods' DNS names, the Service's, ``localhost`` and ``127.0.0.1``): so
these clients verify the chain against the relation's CA bundle and skip the name check. The
consumer charm, which reaches pods by the names the relation gives, checks names as well; the
TLS functional tests check the names the served certificates carry.
"""

import hashlib
import os
import tempfile

_CA_DIR = None


def ca_file(bundle):
    """The path of a file holding ``bundle`` (PEM text): one file per content, written once per
    process, so that a client built earlier keeps reading the bundle it was built with."""
    global _CA_DIR
    if _CA_DIR is None:
        _CA_DIR = tempfile.mkdtemp(prefix='redis-k8s-testbed-ca-')
    path = os.path.join(_CA_DIR, hashlib.sha256(bundle.encode()).hexdigest()[:16] + '.pem')
    if not os.path.exists(path):
        partial = path + '.new'
        with open(partial, 'w') as handle:
            handle.write(bundle)
        os.replace(partial, path)
    return path


def client_kwargs(ca_path):
    """redis-py arguments for TLS verified against the CA file ``ca_path`` (no name check: see
    the module's docstring)."""
    return dict(ssl=True, ssl_ca_certs=ca_path, ssl_cert_reqs='required',
                ssl_check_hostname=False)


def relation_tls(data):
    """``(port, ca bundle or None)`` a consumer uses from one unit's relation data: the TLS port
    and the CA when ``tls`` is ``"true"``, else the plain ``port`` and None."""
    if data.get('tls', '').strip().lower() == 'true' and data.get('tls-ca', '').strip():
        return int(data.get('tls-port') or data['port']), data['tls-ca']
    return int(data['port']), None
