"""Print Odoo's Python requirements, resolved for the pins Odoo lists for Python 3.12.

Odoo 18.0's requirements.txt pins older releases for Python 3.11 that no longer build
from source here (gevent 22, psycopg2 2.9.5, lxml 4.9...), while its Python 3.12 pins
ship wheels and run fine on 3.11. We therefore evaluate every environment marker as if
the interpreter were 3.12 and print plain requirement lines for pip.
"""
import sys

try:
    from packaging.requirements import Requirement
except ImportError:  # a bare venv: pip vendors packaging
    from pip._vendor.packaging.requirements import Requirement

PY = {"python_version": "3.12", "python_full_version": "3.12.0"}
# Only Odoo's auth_ldap imports it, and it needs the OpenLDAP headers to build.
SKIP = {"python-ldap"}


def main(path):
    for raw in open(path, encoding="utf-8"):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        if req.marker and not req.marker.evaluate(PY):
            continue
        if req.name.lower() in SKIP:
            continue
        req.marker = None
        print(req)


if __name__ == "__main__":
    main(sys.argv[1])
