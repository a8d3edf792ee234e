"""The report's pictures as data URIs, so that ``report.html`` shows them alone (mailed, downloaded, moved).

Each picture is read through ``run_files`` like every other file of the run: nothing outside the run, only regular
files, a size checked before one byte is read. A picture over a cap is not read: it is linked by its path relative to
the run folder, as before, and the page says so next to it and at its top (``Pictures.summary``).
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from pathlib import Path

from latent_probe.artifacts.run_files import FILE, checked_run_path, read_run_bytes
from latent_probe.errors import ConfigError

# Caps on the raw bytes embedded (base64 adds a third). A probe's PNG or GIF is tens or hundreds of KB, so every
# picture of an ordinary run fits; the caps keep a run holding huge pictures from making a page a browser or a mail
# client chokes on (20 MB of pictures is a ~27 MB page). Pictures are embedded in page order, newest moment first,
# while the page's total lasts.
IMAGE_EMBED_MAX_BYTES = 2_000_000
PAGE_EMBED_MAX_BYTES = 20_000_000
MIME_TYPES = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
              ".svg": "image/svg+xml"}
LINKED_NOTE = "linked, not embedded (over the cap)"
NEXT_TO_THE_RUN = "next to the run folder"


def data_uri(data: bytes, suffix: str) -> str:
    """``data:<mime>;base64,...`` of a picture's bytes (the MIME type from the file's suffix)."""
    mime = MIME_TYPES.get(suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


@dataclass
class Pictures:
    """Turns a run's pictures into ``<figure>`` elements: embedded while the caps allow, else linked with a note."""

    run_dir: Path
    image_cap: int = IMAGE_EMBED_MAX_BYTES
    page_cap: int = PAGE_EMBED_MAX_BYTES
    embedded_bytes: int = 0
    linked: list[str] = field(default_factory=list)  # run-relative paths of the pictures over a cap

    def figure(self, image: Path) -> str:
        """One picture's ``<figure>``: a data URI, a relative link with a note when over a cap, or a note alone."""
        rel = image.relative_to(self.run_dir).as_posix()
        name, title = html.escape(image.name), html.escape(rel)
        data = b""
        try:
            real = checked_run_path(self.run_dir, image, FILE)  # nothing outside the run, only regular files
            over = self.over_cap(os.stat(real).st_size)  # ``real`` holds no symlink: this stat cannot leave the run
            if over is None:  # read with the cap just checked: a file grown since is refused, not read whole
                data = read_run_bytes(self.run_dir, image, min(self.image_cap, self.page_cap - self.embedded_bytes))
        except (ConfigError, OSError) as error:  # swapped or changed since the folder was listed: neither read nor linked
            why = error if isinstance(error, ConfigError) else error.strerror
            return f'<figure><figcaption>{name}<br><span class="note">not shown: {html.escape(str(why))}</span></figcaption></figure>'
        if over is not None:
            self.linked.append(rel)
            note = f"{LINKED_NOTE}: {over}; it shows only {NEXT_TO_THE_RUN}"
            return (f'<figure class="linked"><img src="{title}" alt="{name}" title="{title}" loading="eager">'
                    f'<figcaption>{name}<br><span class="note">{html.escape(note)}</span></figcaption></figure>')
        self.embedded_bytes += len(data)
        return (f'<figure><img src="{data_uri(data, image.suffix)}" alt="{name}" title="{title}" loading="eager">'
                f"<figcaption>{name}</figcaption></figure>")

    def over_cap(self, size: int) -> str | None:
        """Why a picture of ``size`` bytes is not embedded, or None when it fits both caps."""
        if size > self.image_cap:
            return f"{size:,} bytes, over the cap of {self.image_cap:,} per picture"
        if self.embedded_bytes + size > self.page_cap:
            return f"{size:,} bytes, over what is left of the page's cap of {self.page_cap:,} bytes of pictures"
        return None

    def summary(self) -> str:
        """The line at the top of the page counting the linked pictures (empty when every picture is embedded)."""
        count = len(self.linked)
        if not count:
            return ""
        pictures, they = ("1 picture", "it shows") if count == 1 else (f"{count:,} pictures", "they show")
        return f'<p class="note">{pictures} {LINKED_NOTE}: {they} only {NEXT_TO_THE_RUN}.</p>'
