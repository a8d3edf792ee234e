"""Plotting helpers: figures to images, thumbnails, tiles, GIFs. No probe logic lives here."""
