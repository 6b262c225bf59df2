from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from .salesjet_funnel import path_sql_patterns

# The path of a website.track's url, as normalize_path() writes it: no scheme,
# host, query or fragment, no trailing slash ("/" for the home page).
TRACK_PATH = SQL(
    "COALESCE(NULLIF(rtrim(substring(t.url from '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*([^?#]*)'), '/'), ''), '/')"
)


class SalesjetFlowConditionWeb(models.AbstractModel):
    _name = "salesjet.flow.condition.web"
    _description = "Flow condition: website activity"

    funnel_id = fields.Many2one("salesjet.funnel", check_company=True, string="Funnel", ondelete="cascade",
                                help="The contact visited at least one page of this funnel.")
    page_path = fields.Char(
        string="Page", help="The page's path, e.g. /pricing; end it with * for every page under it (/shop*).",
    )
    within_days = fields.Integer(
        string="Within (days)", default=0,
        help="Only visits of the last N days count; 0: any visit ever recorded.",
    )

    @api.constrains("condition_type", "funnel_id", "page_path", "within_days")
    def _check_web_settings(self):
        for line in self.filtered(lambda c: c.condition_type in ("in_funnel", "page_visited", "funnel_registered")):
            getattr(line, f"_check_{line.condition_type}")()

    def _check_in_funnel(self):
        if not self.funnel_id:
            raise ValidationError(_("Choose the funnel of the condition “visited the funnel” of step “%s”.",
                                    self.step_id.display_name))
        self._check_within_days()

    def _check_funnel_registered(self):
        if not self.funnel_id:
            raise ValidationError(_("Choose the funnel of the condition “registered in the funnel” of step “%s”.",
                                    self.step_id.display_name))
        self._check_within_days()

    def _check_page_visited(self):
        if not (self.page_path or "").strip().startswith("/"):
            raise ValidationError(_("Write the page of the condition “visited a page” of step “%s” as a path "
                                    "starting with /, e.g. /pricing.", self.step_id.display_name))
        self._check_within_days()

    def _check_within_days(self):
        if self.within_days < 0:
            raise ValidationError(_("Step “%s”: the number of days of a visit condition cannot be negative.",
                                    self.step_id.display_name))

    def _describe_in_funnel(self):
        text = _("visited %s", (self.funnel_id.name if self.condition_type == "in_funnel" else self.page_path) or "?")
        if self.within_days:
            text = _("%(text)s in the last %(days)s days", text=text, days=self.within_days)
        return text

    _describe_page_visited = _describe_in_funnel

    def _describe_funnel_registered(self):
        text = _("registered in %s", self.funnel_id.name or "?")
        if self.within_days:
            text = _("%(text)s in the last %(days)s days", text=text, days=self.within_days)
        return text

    def _visited_domain(self, page_ids, patterns):
        """Contacts with a tracked visit (website.track of a visitor linked to them) of one of the pages:
        one subselect, whatever the number of contacts."""
        exact, likes = path_sql_patterns(patterns)
        matches = [SQL("t.page_id = ANY(%s)", list(page_ids))] if page_ids else []
        if exact:
            matches.append(SQL("%s = ANY(%s)", TRACK_PATH, exact))
        if likes:
            matches.append(SQL("%s LIKE ANY(%s)", TRACK_PATH, likes))
        if not matches:
            return [("id", "=", False)]
        where = [SQL("v.partner_id IS NOT NULL"), SQL("(%s)", SQL(" OR ").join(matches))]
        if self.within_days > 0:
            where.append(SQL("t.visit_datetime >= %s", fields.Datetime.now() - timedelta(days=self.within_days)))
        self.env["website.track"].flush_model()
        self.env["website.visitor"].flush_model(["partner_id"])
        return [("id", "in", SQL(
            "(SELECT v.partner_id FROM website_track t JOIN website_visitor v ON v.id = t.visitor_id WHERE %s)",
            SQL(" AND ").join(where),
        ))]

    def _domain_in_funnel(self):
        page_ids, paths = self.funnel_id.sudo()._track_match_sql_parts()
        return self._visited_domain(page_ids, paths)

    def _domain_funnel_registered(self):
        """Contacts who sent a website form from one of the funnel's pages (within the last N days)."""
        funnel = self.funnel_id.sudo()
        since = fields.Datetime.now() - timedelta(days=self.within_days) if self.within_days > 0 else None
        return [("id", "in", SQL("(SELECT r.partner_id FROM (%s) r)", funnel._registration_events_sql(since)))]

    def _domain_page_visited(self):
        return self._visited_domain([], [self.page_path or ""])
