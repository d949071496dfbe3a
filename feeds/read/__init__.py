"""Stage 1, read: article files → Articles (or named Problems), through the parse cache.

`reader` finds, opens and decodes files and `article_fields` turns one front-matter mapping into an
Article (with `text`, `dates` and `safe_yaml`); `load` reads a whole folder through `parsecache` on all
cores, and `incremental_load` reads it again in a long-running process; `folder_scan` and `watch` know
which files changed. Imports only `feeds.model`, `feeds.config` and the shared modules at the top of
the package.
"""
