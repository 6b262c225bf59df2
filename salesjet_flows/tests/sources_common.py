import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from odoo.tests import HttpCase

from .common import SalesjetCase


class SalesjetHttpCase(HttpCase, SalesjetCase):
    """SalesjetCase's factories with Odoo's test HTTP server (real routes, real controllers)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.website = cls.env["website"].get_current_website()
        cls.tracked_page = cls.make_page("/sj-offer", "SalesJet offer page")

    @classmethod
    def make_page(cls, url, text):
        view = cls.env["ir.ui.view"].create({
            "name": text, "type": "qweb", "key": f"salesjet_test.{url.strip('/')}", "track": True,
            "arch": f'<t t-name="salesjet_test.page"><t t-call="website.layout"><p>{text}</p></t></t>',
        })
        return cls.env["website.page"].create({"view_id": view.id, "url": url, "website_published": True,
                                               "website_id": cls.website.id})

    @classmethod
    def make_portal_user(cls, login, email):
        return cls.env["res.users"].with_context(no_reset_password=True).create({
            "name": login.title(), "login": login, "password": f"{login}-pass-2026", "email": email,
            "groups_id": [(6, 0, [cls.env.ref("base.group_portal").id])],
        })

    def post_json(self, url, payload=None, raw=None, headers=None):
        body = raw if raw is not None else json.dumps(payload).encode()
        return self.opener.post(f"{self.base_url()}{url}", data=body, timeout=30,
                                headers={"Content-Type": "application/json", **(headers or {})})

    def events(self, kind):
        return self.env["salesjet.event"].search([("kind", "=", kind)], order="id")


class FakeHttpServer:
    """An HTTP server on 127.0.0.1 (port 0) in a thread, standing for an outside service.

    ``routes`` maps a path to ``(status, json body)``; requests are recorded in ``calls`` (their paths with
    query) and ``headers`` (their headers).
    """

    def __init__(self):
        self.routes, self.calls, self.headers = {}, [], []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake.calls.append(self.path)
                fake.headers.append(dict(self.headers))
                status, body = fake.routes.get(self.path.split("?", 1)[0], (404, {"error": "unknown"}))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
