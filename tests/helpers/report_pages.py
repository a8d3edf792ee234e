"""Reading a written ``report.html`` back: its pictures, as a browser's parser sees them."""

from __future__ import annotations

import base64
from html.parser import HTMLParser


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append({name: value or "" for name, value in attrs})


def page_images(page: str) -> list[dict[str, str]]:
    """The attributes of every ``<img>`` of ``page`` (entities decoded): ``src``, ``alt``, ``title`` (its run file)."""
    parser = _Images()
    parser.feed(page)
    parser.close()
    return parser.images


def decoded(src: str) -> tuple[str, bytes]:
    """The MIME type and bytes of a ``data:<mime>;base64,...`` URI."""
    head, _, payload = src.partition(",")
    assert head.startswith("data:") and head.endswith(";base64"), head[:80]
    return head[len("data:"):-len(";base64")], base64.b64decode(payload, validate=True)
