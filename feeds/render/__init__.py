"""Stage 3, render: a feed (or a page for people) and a format → bytes, plus what HTTP needs.

Formats are data: one writer per format (`rss`, `atom` through feedgen and `xmlfeed`; `jsonfeed`),
registered in `feed.WRITERS`; the pages for people are `page_layout`, `feed_page` and `index_page`;
`site` is the one table of the site's paths, so every outlet answers a path with the same bytes.
"""
