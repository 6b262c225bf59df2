"""Where Odoo's own happenings become flow events: email tracking (opens,
clicks, replies, bounces), mailing-list subscriptions, portal sign-ups and
page visits. A source does nothing unless an active flow listens to its kind
(a cached check), and an error while posting never breaks what Odoo was doing
(the open pixel, the sign-up, the page)."""
import logging
import time

from odoo import api, fields, models, tools
from odoo.http import request

from .salesjet_event_sources import normalize_path

_logger = logging.getLogger(__name__)

# Above this many events at once (an import), they are left to the event cron.
INLINE_EVENTS = 50
VISIT_WINDOW = 1800


class SalesjetFlowTrigger(models.Model):
    _inherit = "salesjet.flow.trigger"

    @api.model
    @tools.ormcache("kind")
    def _listening_company_ids(self, kind):
        """Companies with an active flow listening to events of ``kind`` (cached, cleared with triggers)."""
        types = [t for t, event_kind in self._event_kinds().items() if event_kind == kind]
        triggers = self.sudo().search([("trigger_type", "in", types), ("flow_id.active", "=", True)])
        return frozenset(triggers.company_id.ids)

    @api.model
    def _page_leave_config_for_request(self, website):
        """The exit-intent settings of the page being rendered (see ``_page_leave_config``)."""
        if website.company_id.id not in self._listening_company_ids("page_leave"):
            return None
        return self._page_leave_config(website.company_id.id, request_page_path())


class SalesjetEvent(models.Model):
    _inherit = "salesjet.event"

    @api.model
    def _post_safely(self, items, kind, source, company=None):
        """Post one event per ``(partner, data, external_id)`` of ``items`` for the contacts of companies
        listening to ``kind``; errors are logged, never raised to the source.

        :param company: the event's company (a website's); default: the contact's, else the current one
        """
        listening = self.env["salesjet.flow.trigger"]._listening_company_ids(kind)
        if not listening:
            return
        items = [(partner, data, external_id, company or partner.company_id or self.env.company)
                 for partner, data, external_id in items if partner]
        items = [item for item in items if item[3].id in listening]
        process = len(items) <= INLINE_EVENTS
        for partner, data, external_id, event_company in items:
            try:
                with self.env.cr.savepoint():
                    self.sudo().with_company(event_company).post(
                        None, partner, data=data, external_id=external_id, source=source, kind=kind,
                        process=process)
            except Exception:  # noqa: BLE001 - the source must go on
                _logger.exception("SalesJet: could not post a %s event for contact %s", kind, partner.id)


class MailingTrace(models.Model):
    _inherit = "mailing.trace"

    def set_opened(self, domain=None):
        traces = super().set_opened(domain=domain)
        traces._salesjet_post("email_open")
        return traces

    def set_clicked(self, domain=None):
        traces = super().set_clicked(domain=domain)
        traces._salesjet_post("email_click")
        return traces

    def set_replied(self, domain=None):
        traces = super().set_replied(domain=domain)
        traces._salesjet_post("email_reply")
        return traces

    def set_bounced(self, domain=None, bounce_message=False):
        traces = super().set_bounced(domain=domain, bounce_message=bounce_message)
        traces._salesjet_post("email_bounce")
        return traces

    def _salesjet_post(self, kind):
        """One event per trace of a contact and kind (the external id makes a second open a no-op)."""
        traces = self.sudo().filtered(lambda t: t.model == "res.partner" and t.res_id and t.trace_type == "mail")
        if not traces or not self.env["salesjet.flow.trigger"]._listening_company_ids(kind):
            return
        partners = self.env["res.partner"].sudo().browse(traces.mapped("res_id")).exists()
        existing = set(partners.ids)
        self.env["salesjet.event"]._post_safely([
            (self.env["res.partner"].sudo().browse(trace.res_id),
             {"trace_id": trace.id, "mailing_id": trace.mass_mailing_id.id, "email": trace.email or ""},
             f"trace:{trace.id}")
            for trace in traces if trace.res_id in existing
        ], kind, "mailing")


class MailingSubscription(models.Model):
    _inherit = "mailing.subscription"

    @api.model_create_multi
    def create(self, vals_list):
        subscriptions = super().create(vals_list)
        subscriptions.filtered(lambda s: not s.opt_out)._salesjet_post_subscribed()
        return subscriptions

    def write(self, vals):
        resubscribed = self.filtered("opt_out") if "opt_out" in vals and not vals["opt_out"] else self.browse()
        res = super().write(vals)
        resubscribed._salesjet_post_subscribed(again=True)
        return res

    def _salesjet_post_subscribed(self, again=False):
        """Find or create the contact of each subscriber (by email, set-based) and post ``list_subscribe``."""
        if not self or not self.env["salesjet.flow.trigger"]._listening_company_ids("list_subscribe"):
            return
        subscriptions = self.sudo()
        partners = self.env["res.partner"]._salesjet_find_or_create([
            {"email": sub.contact_id.email, "name": sub.contact_id.name} for sub in subscriptions])
        stamp = fields.Datetime.now().isoformat() if again else ""
        self.env["salesjet.event"]._post_safely([
            (partner, {"list_id": sub.list_id.id, "list": sub.list_id.name, "email": sub.contact_id.email or ""},
             f"subscription:{sub.id}{':' + stamp if stamp else ''}")
            for sub, partner in zip(subscriptions, partners)
        ], "list_subscribe", "mailing_list")


class MailingContact(models.Model):
    _inherit = "mailing.contact"

    # list_ids writes the subscription table directly, without mailing.subscription.create

    @api.model_create_multi
    def create(self, vals_list):
        contacts = super().create(vals_list)
        if any("list_ids" in vals for vals in vals_list):
            contacts.flush_recordset(["list_ids"])
            contacts.invalidate_recordset(["subscription_ids"])
            contacts.subscription_ids.filtered(lambda s: not s.opt_out)._salesjet_post_subscribed()
        return contacts

    def write(self, vals):
        if "list_ids" not in vals:
            return super().write(vals)
        before = set(self.subscription_ids.ids)
        res = super().write(vals)
        self.flush_recordset(["list_ids"])
        self.invalidate_recordset(["subscription_ids"])
        new = self.subscription_ids.filtered(lambda s: s.id not in before and not s.opt_out)
        new._salesjet_post_subscribed()
        return res


class ResUsers(models.Model):
    _inherit = "res.users"

    def _create_user_from_template(self, values):
        user = super()._create_user_from_template(values)
        self.env["salesjet.event"]._post_safely(
            [(user.partner_id.sudo(), {"user_id": user.id, "login": user.login}, f"signup:{user.id}")],
            "signup", "signup")
        return user


class WebsiteVisitor(models.Model):
    _inherit = "website.visitor"

    def _handle_webpage_dispatch(self, website_page):
        super()._handle_webpage_dispatch(website_page)
        try:
            # before the visit event: the first page after a signed link is already the contact's
            self._salesjet_link_pending()
            self._salesjet_post_page_visit(website_page)
        except Exception:  # noqa: BLE001 - a page view must never fail for a flow
            _logger.exception("SalesJet: could not record a page visit")

    def _salesjet_post_page_visit(self, website_page):
        """One ``page_visit`` event per tracked view of an identified visitor (a visitor with a contact)."""
        company_id = request.website.company_id.id
        if company_id not in self.env["salesjet.flow.trigger"]._listening_company_ids("page_visit"):
            return
        path = request_page_path()
        # a cached check, no query: funnel lines of website pages hold the page's path too
        if not self.env["salesjet.flow.trigger"]._page_rows_matching("page_visit", company_id, path):
            return  # no flow watches this page: no event
        visitor = self._get_visitor_from_request()
        if not visitor or not visitor.partner_id:
            return
        data = {
            "path": path,
            "url": request.httprequest.url[:2000],
            "page_id": website_page.id if website_page else False,
            "visitor_id": visitor.id,
        }
        # one event per contact and page per 30 minutes, as Odoo counts a visit (website.visitor._add_tracking)
        bucket = int(time.time() // VISIT_WINDOW)
        self.env["salesjet.event"]._post_safely(
            [(visitor.partner_id, data, f"visit:{visitor.partner_id.id}:{path}:{bucket}")], "page_visit", "website",
            company=request.website.company_id)


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
