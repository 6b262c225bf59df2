"""pytest-odoo glue for Odoo 18.

pytest-odoo 2.3 only sets ``odoo.modules.module.current_test`` for Odoo 19+,
but Odoo 18's mail server code checks that flag to avoid real SMTP in tests
(mirrors odoo/tests/loader.py ``run_suite``).
"""
import threading

import pytest


@pytest.fixture(autouse=True)
def _odoo18_current_test(monkeypatch):
    from odoo.modules import module as odoo_module

    monkeypatch.setattr(odoo_module, "current_test", True)
    threading.current_thread().testing = True
