"""``$(VAR)`` references in a container's command and args, expanded as the kubelet does.

Kubernetes expands a container's ``command`` and ``args`` with the container's environment
variables before it starts the process (``pkg/kubelet/container/helpers.go``,
``ExpandContainerCommandAndArgs``, with ``third_party/forked/golang/expansion/expand.go``):

- ``$(NAME)`` becomes the value of ``NAME`` when the container defines it, else stays as it is;
- ``$$`` becomes ``$`` (so ``$$(NAME)`` is the literal ``$(NAME)``);
- a ``$`` followed by anything else, or an unterminated ``$(``, stays as it is.

No shell is involved: an image without one (e.g. a Go binary built ``FROM scratch``) still gets
its arguments expanded.
"""


def _read_name(rest):
    """``(text, is_variable, consumed)`` for what follows a ``$``, as expansion's
    ``tryReadVariableName``."""
    if rest[0] == "$":
        return "$", False, 1
    if rest[0] == "(":
        end = rest.find(")", 1)
        if end == -1:  # unterminated: "$(" kept, the rest read as plain text
            return "$(", False, 1
        return rest[1:end], True, end + 1
    return "$" + rest[0], False, 1


def expand(text, env):
    """``text`` with its ``$(NAME)`` references to ``env`` expanded (see the module)."""
    out = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            read, is_variable, consumed = _read_name(text[cursor + 1:])
            if is_variable:
                out.append(env[read] if read in env else "$(" + read + ")")
            else:
                out.append(read)
            cursor += consumed
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


def expand_argv(argv, env):
    """A container's command and args, each expanded with ``env``."""
    return [expand(arg, env) for arg in argv]
