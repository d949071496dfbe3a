"""Outlet: the live server (Flask app under gunicorn) that reloads as the articles folder changes."""
