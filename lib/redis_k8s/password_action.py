"""What the ``get-password`` action gives, decided from leader data and the configuration
(no hook tool: the action script reads them and calls this).

The password an operator is given is the one the consumers are given: during a password change
the Secret may already hold the new one while some pod does not accept it yet
(:mod:`redis_k8s.rotation`); the consumers' one is accepted by every redis and sentinel.
"""

from . import rotation

# Leader data key: the unit that leads, written by the leader (Juju 2.9 has no hook tool that
# tells a unit which unit leads), so a non-leader can name it.
LEADER_UNIT_KEY = "leader-unit"


def admin_password(configured: str, leader_data: dict):
    """Return the password every pod accepts, or None before the leader made one.

    Args:
        configured: the ``password`` option ('' when the leader generates one).
        leader_data: the whole of leader data (``leader-get``).
    """
    consumers = rotation.from_leader_data(leader_data.get).consumers
    return consumers or configured or leader_data.get("password") or None


def not_leader_message(action: str, leader_data: dict) -> str:
    """Return what ``action`` says on a unit that does not lead, naming the leader if known."""
    leader = leader_data.get(LEADER_UNIT_KEY)
    if leader:
        return "this unit is not the leader: run {} on the leader unit ({})".format(action, leader)
    return "this unit is not the leader: run {} on the leader unit (juju status marks it with *)".format(
        action)
