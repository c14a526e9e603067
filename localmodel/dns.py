"""The model's name files, bind-mounted in every operator and pod: /etc/hosts (every pod's stable
names and every Service, under the model's cluster domain), /etc/resolv.conf, nsswitch.conf."""

DEFAULT_DOMAIN = "cluster.local"

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



def resolv(model, domain=DEFAULT_DOMAIN):
    """A pod's /etc/resolv.conf as the kubelet writes it for ``dnsPolicy: ClusterFirst``
    (pkg/kubelet/network/dns/dns.go: the namespace's search path under the cluster domain,
    ``ndots:5``), so a workload learns the cluster domain from the search line as it would on a
    real cluster. The nameserver is loopback and ``hosts: files`` means it is never asked:
    nothing may leave loopback.
    """
    return ("nameserver 127.0.0.1\nsearch %s.svc.%s svc.%s %s\noptions ndots:5\n"
            % (model, domain, domain, domain))


def hosts(model, services, pods, domain=DEFAULT_DOMAIN):
    """``services``: {app: address}; ``pods``: [(pod, app, address)]."""
    lines = [HEADER]
    for app, addr in sorted(services.items()):
        lines.append("%s\t%s.%s.svc.%s %s.%s %s\n" % (addr, app, model, domain, app, model,
                                                     app))
    for pod, app, addr in sorted(pods):
        fqdn = "%s.%s-endpoints.%s.svc.%s" % (pod, app, model, domain)
        lines.append("%s\t%s %s.%s-endpoints %s\n" % (addr, fqdn, pod, app, pod))
    return "".join(lines)
