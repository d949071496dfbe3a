"""Stage 2, index: Articles → the Catalog, every feed of every family with its newest items.

Families are data (`families`: all, topics, providers; `configured`: the config's saved filters);
`catalog` groups articles into feeds in one pass over them and `catalog_update` keeps it up to date
after a reload; `filters` is the one meaning of a filter (for /filter and configured feeds) and
`filter_index` answers one in milliseconds.
"""
