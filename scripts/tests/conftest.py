"""Shell-level tests of scripts/lib.sh: plain pytest, no Odoo and no database.

The repository's conftest.py sets an Odoo flag for every test and so imports odoo; these
tests do not need Odoo, so that fixture is replaced here by one doing nothing.
"""
import pytest


@pytest.fixture(autouse=True)
def _odoo18_current_test():
    yield
