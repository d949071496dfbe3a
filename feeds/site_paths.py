"""The fixed paths of a site and of its export's metadata, in a module that imports nothing.

They are defined here so that what only needs the names (``feeds publish``, which plans
from the export's manifest and never renders) does not import the render stack to get
them; :mod:`feeds.render.writer`, :mod:`feeds.render.site` and :mod:`feeds.folder.cdn` export them as before.
"""

from __future__ import annotations

ARCHIVE_FOLDER = "archive"  # a feed's older items, page by page: archive/<feed>/<n>.<ext>
INDEX_PATH = "index.html"
OPML_PATH = "feeds.opml"

# The export's metadata files: a leading underscore, which no site path has (see feeds.folder.cdn).
HEADERS_PATH = "_headers"
NGINX_PATH = "_nginx.conf"
MANIFEST_PATH = "_manifest.json"
METADATA_PATHS = (HEADERS_PATH, NGINX_PATH, MANIFEST_PATH)
