import re
import time

from odoo import _, http
from odoo.http import request
from odoo.tools import SQL

from ..tools.paths import request_page_path
from .common import BodyTooLarge, MalformedBody, rate_limited, read_json_object, reply

PAGE_LEFT_MAX_BYTES = 2048
# one "page left" event per contact and page in this many seconds
PAGE_LEFT_WINDOW = 600
# tracked file tokens are secrets.token_urlsafe(24): anything else is refused before any lookup
DOWNLOAD_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}$", re.ASCII)


def identified_partner():
    """The contact behind the request: the logged-in user's, else the website visitor's (if known)."""
    if not request.env.user._is_public():
        return request.env.user.partner_id.sudo()
    visitor = request.env["website.visitor"].sudo()._get_visitor_from_request()
    return visitor.partner_id if visitor else request.env["res.partner"]


class SalesjetWebsitePages(http.Controller):

    @http.route("/salesjet/page_left", type="http", auth="public", methods=["POST"], csrf=False, website=True,
                sitemap=False, save_session=False, max_content_length=PAGE_LEFT_MAX_BYTES)
    def page_left(self, **_kwargs):
        """Beacon of the exit-intent script: the visitor is leaving a page.

        Answers 204 when accepted. An event is stored only for an identified visitor (logged in, or a
        website visitor linked to a contact) on a page an active "Page left" trigger watches, at most one
        per contact and page every 10 minutes; anonymous beacons are accepted and nothing is stored.
        """
        if rate_limited("page_left"):
            return reply(429, "Too many requests.")
        try:
            payload = read_json_object(PAGE_LEFT_MAX_BYTES)
        except BodyTooLarge:
            return reply(413, "Body too large.")
        except MalformedBody as e:
            return reply(400, f"Malformed beacon: {e}.")
        raw_path, url = payload.get("path"), payload.get("url", "")
        if not isinstance(raw_path, str) or not raw_path.startswith("/") or len(raw_path) > 1000 \
                or not isinstance(url, str) or len(url) > 2000:
            return reply(400, "Malformed beacon: path must be the page's path (/...).")
        partner = identified_partner()
        if not partner:
            return reply(204)
        company = request.website.company_id
        path = request_page_path(raw_path)
        Trigger = request.env["salesjet.flow.trigger"].sudo()
        if not Trigger._page_leave_config(company.id, path):
            return reply(204)
        bucket = int(time.time() // PAGE_LEFT_WINDOW)
        request.env["salesjet.event"].sudo()._post_safely(
            [(partner, {"path": path, "url": url}, f"leave:{partner.id}:{path}:{bucket}")],
            "page_leave", "website", company=company)
        return reply(204)

    # multilang=False: a file link has no language prefix nor SEO form, so the website never redirects it
    @http.route("/salesjet/download/<string:token>", type="http", auth="public", methods=["GET"], website=True,
                multilang=False, sitemap=False)
    def download(self, token, **_kwargs):
        """Serve a tracked file; an identified visitor's download raises a ``file_download`` event.

        An unknown, archived or malformed token gets a one-line 404 (not the website's 404 page, whose
        fallback looks the address up in the database).
        """
        if not DOWNLOAD_TOKEN_RE.match(token):
            return reply(404, _("This link is not valid."))
        download = request.env["salesjet.download"].sudo().search(
            [("token", "=", token), ("active", "=", True)], limit=1)
        if not download:
            return reply(404, _("This link is not valid."))
        partner = identified_partner()
        if partner:
            request.env["salesjet.event"].sudo()._post_safely(
                [(partner, {"download_id": download.id, "name": download.name, "file_name": download.file_name or ""},
                  None)], "file_download", "download", company=download.company_id)
        # a counter, not a write: concurrent downloads must not conflict
        request.env.cr.execute(SQL(
            "UPDATE salesjet_download SET download_count = download_count + 1 WHERE id = %s", download.id))
        stream = request.env["ir.binary"]._get_stream_from(
            download, "file", filename=download.file_name or download.name)
        return stream.get_response(as_attachment=True)
