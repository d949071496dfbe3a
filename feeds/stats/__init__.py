"""Outlet: who reads the feeds, from the live server's requests or a CDN's access logs, in SQLite."""
