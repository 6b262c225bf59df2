from urllib.parse import urlsplit

from odoo.http import request


def normalize_path(path):
    """A page path as flows compare it: no scheme/host, query or fragment, no trailing slash.

    ``https://shop.example.com/pricing/?a=1`` and ``/pricing`` both give ``/pricing``.
    """
    path = (path or "").strip()
    if "://" in path:
        path = urlsplit(path).path
    path = path.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/"):
        path = "/" + path
    return path.rstrip("/") or "/"


def path_matches(pattern, path):
    """Whether ``path`` is the page ``pattern`` names; a trailing ``*`` matches every page under a prefix."""
    pattern = (pattern or "").strip()
    if not pattern:
        return True
    if pattern.endswith("*"):
        prefix = normalize_path(pattern[:-1]) if pattern[:-1].strip() else "/"
        return prefix == "/" or path == prefix or path.startswith(prefix.rstrip("/") + "/")
    return normalize_path(pattern) == normalize_path(path)


def request_page_path(path=None):
    """The visited page's path without the language prefix (/fr/pricing -> /pricing)."""
    path = normalize_path(path if path is not None else request.httprequest.path)
    lang = getattr(request, "lang", None)
    website = getattr(request, "website", None)
    if website and lang:
        codes = set(website.language_ids.mapped("url_code"))
        first, _sep, rest = path[1:].partition("/")
        if first in codes:
            path = normalize_path("/" + rest)
    return path
