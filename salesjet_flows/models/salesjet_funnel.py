from odoo import _, api, fields, models
from odoo.tools import SQL

from ..tools.paths import normalize_path, path_matches


def _like_escape(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def path_sql_patterns(patterns):
    """(exact paths, LIKE patterns) matching the page ``patterns`` (a trailing * covers a prefix), as SQL
    compares normalised paths."""
    exact, likes = [], []
    for pattern in patterns:
        pattern = (pattern or "").strip()
        if pattern.endswith("*"):
            base = normalize_path(pattern[:-1] or "/")
            if base == "/":
                likes.append("/%")
            else:
                exact.append(base)
                likes.append(_like_escape(base) + "/%")
        elif pattern:
            exact.append(normalize_path(pattern))
    return exact, likes


class SalesjetFunnel(models.Model):
    _name = "salesjet.funnel"
    _inherit = ["salesjet.engine.cache.mixin"]
    _description = "Website Funnel"
    _order = "name, id"

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", string="Company", required=True, index=True,
                                 default=lambda self: self.env.company)
    page_ids = fields.One2many(
        "salesjet.funnel.page", "funnel_id", string="Pages", copy=True,
        help="The funnel's pages, in order: website pages or any path of the site (/shop/checkout).",
    )
    page_count = fields.Integer(string="Number of pages", compute="_compute_page_count")

    @api.depends("page_ids")
    def _compute_page_count(self):
        for funnel in self:
            funnel.page_count = len(funnel.page_ids)

    registrant_count = fields.Integer(
        string="Registrants", compute="_compute_registrant_count",
        help="Contacts who sent a website form from one of the funnel's pages.",
    )

    def _compute_registrant_count(self):
        for funnel in self:
            funnel.registrant_count = len(funnel._registrant_ids()) if funnel.id else 0

    def _registration_events_sql(self, since=None):
        """SQL of (event id, contact id) of the funnel's registrations: the ``website_form`` events of the
        funnel's company whose form was sent from one of its pages (the page the form was on, the event's
        ``data.path``) and whose contact is known (the event's, else its lead's); since ``since`` if given."""
        self.ensure_one()
        exact, likes = path_sql_patterns(self.page_ids.mapped("path"))
        path = SQL("(e.data->>'path')")
        matches = []
        if exact:
            matches.append(SQL("%s = ANY(%s)", path, exact))
        if likes:
            matches.append(SQL("%s LIKE ANY(%s)", path, likes))
        if not matches:
            matches.append(SQL("FALSE"))
        where = [SQL("e.kind = 'website_form'"), SQL("e.company_id = %s", self.company_id.id),
                 SQL("(%s)", SQL(" OR ").join(matches))]
        if since:
            where.append(SQL("e.create_date >= %s", since))
        self.env["salesjet.event"].flush_model(["kind", "company_id", "data", "partner_id", "lead_id"])
        self.env["crm.lead"].flush_model(["partner_id"])
        return SQL(
            """SELECT e.id AS event_id, COALESCE(e.partner_id, l.partner_id) AS partner_id
                 FROM salesjet_event e LEFT JOIN crm_lead l ON l.id = e.lead_id
                WHERE %s AND COALESCE(e.partner_id, l.partner_id) IS NOT NULL""",
            SQL(" AND ").join(where))

    def _registrant_ids(self, since=None):
        """Ids of the contacts registered in the funnel (see ``_registration_events_sql``)."""
        self.ensure_one()
        rows = self.env.execute_query(SQL("SELECT DISTINCT r.partner_id FROM (%s) r",
                                          self._registration_events_sql(since)))
        return [row[0] for row in rows]

    def action_view_registrants(self):
        """The funnel's registrations (contact, date, lead), newest first."""
        self.ensure_one()
        event_ids = [row[0] for row in self.env.execute_query(SQL("SELECT r.event_id FROM (%s) r",
                                                                  self._registration_events_sql()))]
        action = self.env["ir.actions.act_window"]._for_xml_id("salesjet_flows.salesjet_event_action")
        action.update({
            "name": _("Registrants of %s", self.name),
            "domain": [("id", "in", event_ids)],
            "context": {"create": False},
        })
        return action

    def _contains(self, path, page_id=None):
        """Whether ``path`` (or the website page ``page_id``) is one of the funnel's pages."""
        self.ensure_one()
        return any((page_id and line.page_id.id == page_id) or path_matches(line.path, path) for line in self.page_ids)

    def _track_match_sql_parts(self):
        """(website page ids, normalised paths) of the funnel, for conditions on website.track."""
        return self.page_ids.page_id.ids, [line.path for line in self.page_ids if line.path]
