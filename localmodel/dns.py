"""The model's /etc/hosts: every pod's stable names and every Service, bind-mounted everywhere."""

HEADER = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
NSSWITCH = """passwd:         files
group:          files
shadow:         files
hosts:          files
networks:       files
protocols:      files
services:       files
ethers:         files
rpc:            files
"""
# Nothing may leave loopback: name lookups never reach a real resolver.
RESOLV = "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
OS_RELEASE = """NAME="Ubuntu"
VERSION="20.04.6 LTS (Focal Fossa)"
ID=ubuntu
ID_LIKE=debian
PRETTY_NAME="Ubuntu 20.04.6 LTS"
VERSION_ID="20.04"
HOME_URL="https://www.ubuntu.com/"
VERSION_CODENAME=focal
UBUNTU_CODENAME=focal
"""


def hosts(model, services, pods):
    """``services``: {app: address}; ``pods``: [(pod, app, address)]."""
    lines = [HEADER]
    for app, addr in sorted(services.items()):
        lines.append("%s\t%s.%s.svc.cluster.local %s.%s %s\n" % (addr, app, model, app, model,
                                                               app))
    for pod, app, addr in sorted(pods):
        fqdn = "%s.%s-endpoints.%s.svc.cluster.local" % (pod, app, model)
        lines.append("%s\t%s %s.%s-endpoints %s\n" % (addr, fqdn, pod, app, pod))
    return "".join(lines)
