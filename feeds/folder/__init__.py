"""Outlet: the static export, every site path written to an output folder atomically, for a CDN or nginx."""
