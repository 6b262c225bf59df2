from .common import SalesjetCase  # noqa: F401
