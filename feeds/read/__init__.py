"""Stage 1, read: article files → Articles (or named Problems), through the parse cache.

`article_files` finds the files, `reader` opens, decodes and parses each and `article_fields` turns
one front-matter mapping into an Article (with `clean_shapes`, `text`, `mojibake`, `dates` and `safe_yaml`); `load`
reads a whole folder through `parsecache` on all cores, and `incremental_load` reads it again in a
long-running process; `folder_scan` and `watch` know which files changed. Imports only
`feeds.model`, `feeds.config` and the shared modules at the top of the package.
"""
