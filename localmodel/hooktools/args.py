"""Juju-style (gnuflag) argument parsing for hook tools."""


class ToolError(Exception):
    """A tool failure: ``str(e)`` is printed after ``ERROR `` with exit code ``rc``."""

    def __init__(self, message, rc=1):
        super().__init__(message)
        self.rc = rc


def parse(args, options, flags=()):
    """Split ``args`` into ``({option: value}, positionals)``.

    ``options`` take a value (``-r 3``, ``-r=3``, ``--format json``); ``flags`` are booleans.
    Names are given without dashes; aliases as ``"r|relation"`` (the longest is the key).
    """
    names = {}
    for spec in list(options) + list(flags):
        canon = max(spec.split("|"), key=len)
        for alias in spec.split("|"):
            names[alias] = (canon, spec in options)
    opts, pos = {}, []
    i = 0
    only_positionals = False
    while i < len(args):
        a = args[i]
        if a == "--" and not only_positionals:
            only_positionals = True
        elif a.startswith("-") and a != "-" and not only_positionals:
            name, eq, val = a.lstrip("-").partition("=")
            if name not in names:
                raise ToolError("flag provided but not defined: %s" % a.split("=")[0], rc=2)
            canon, takes = names[name]
            if takes:
                if not eq:
                    i += 1
                    if i >= len(args):
                        raise ToolError("flag needs an argument: %s" % a, rc=2)
                    val = args[i]
                opts[canon] = val
            else:
                opts[canon] = True
        else:
            pos.append(a)
        i += 1
    fmt = opts.get("format")
    if fmt is not None and fmt not in ("smart", "yaml", "json"):
        raise ToolError('invalid value "%s" for flag --format: unknown format "%s"' % (fmt, fmt),
                        rc=2)
    return opts, pos


def key_values(items):
    out = {}
    for item in items:
        if "=" not in item:
            raise ToolError('expected "key=value", got "%s"' % item, rc=2)
        k, v = item.split("=", 1)
        out[k] = v
    return out
