"""Outlet: `feeds publish`, an export put on S3-compatible object storage, then the CDNs purged."""
