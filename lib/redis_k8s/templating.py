"""Rendering of every configuration text and script of the charm from ``templates/``."""

import os

TEMPLATES_DIR = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "templates"))

_env = None


def _environment():
    """The Jinja2 environment, created (and jinja2 imported) on first use: most hooks render
    nothing, and the import costs them tens of milliseconds."""
    global _env
    if _env is None:
        import jinja2
        _env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
        )
    return _env


def names() -> list:
    """Return the names of all templates."""
    return sorted(_environment().list_templates())


def render(name: str, **context) -> str:
    """Render template ``name`` with ``context``.

    Raises:
        jinja2.UndefinedError: the template uses a name missing from ``context``.
        jinja2.TemplateNotFound: there is no such template.
    """
    return _environment().get_template(name).render(**context)
