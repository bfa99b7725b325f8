"""Documents from Jinja2 templates: the case file, the transparency report and the evaluation
report, and the web UI's pages (``templates/web/``), all extending ``templates/base.html``.

The environment escapes every ``{{ value }}`` (autoescape on), refuses a name the context does
not hold (StrictUndefined) and shows ``None`` as nothing. Documents are self-contained: the
stylesheet is inline and images are ``data:`` URIs (the ``data_uri`` filter); nothing is
fetched when one is opened.

>>> page = render("base.html", title="<b>hi</b>")
>>> "<title>&lt;b&gt;hi&lt;/b&gt;</title>" in page
True

``base.html`` has the blocks ``title``, ``stylesheet`` (around ``style``, the shared inline
stylesheet; extend it with ``{{ super() }}``; web pages replace the whole block with a link to
the package's stylesheet, so their Content-Security-Policy needs no inline style), ``head``,
``body_attrs``, ``header``, ``nav``, ``main_attrs``, ``main`` and ``footer``. The filters
(:mod:`facedocket.render.filters`) are ``when``, ``moment``, ``duration``, ``pct``, ``ci``, ``ratio``,
``thousands``, ``data_uri`` and ``spaced``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from facedocket.render.filters import FILTERS


def _finalize(value: object) -> object:
    return "" if value is None else value


@cache
def environment() -> jinja2.Environment:
    """The one template environment (built on first use, not at import)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("facedocket.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


def render(template: str, /, **context: Any) -> str:
    """The template named ``template`` (a file in ``facedocket/render/templates``) rendered
    with ``context``."""
    return environment().get_template(template).render(**context)


__all__ = ["environment", "render"]
