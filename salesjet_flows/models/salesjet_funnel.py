from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .salesjet_event_sources import normalize_path, path_matches


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

    def _contains(self, path, page_id=None):
        """Whether ``path`` (or the website page ``page_id``) is one of the funnel's pages."""
        self.ensure_one()
        return any((page_id and line.page_id.id == page_id) or path_matches(line.path, path) for line in self.page_ids)

    def _track_match_sql_parts(self):
        """(website page ids, normalised paths) of the funnel, for conditions on website.track."""
        return self.page_ids.page_id.ids, [line.path for line in self.page_ids if line.path]


class SalesjetFunnelPage(models.Model):
    _name = "salesjet.funnel.page"
    _inherit = ["salesjet.engine.cache.mixin"]
    _description = "Funnel Page"
    _order = "funnel_id, sequence, id"

    funnel_id = fields.Many2one("salesjet.funnel", string="Funnel", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="funnel_id.company_id", store=True, index=True)
    sequence = fields.Integer(default=10)
    page_id = fields.Many2one("website.page", string="Website page", ondelete="cascade",
                              help="A page of the website; its address fills the path.")
    path = fields.Char(
        string="Path", compute="_compute_path", store=True, readonly=False, required=True, precompute=True,
        help="The page's path, e.g. /pricing; end it with * for every page under it (/shop*).",
    )

    @api.depends("page_id.url")
    def _compute_path(self):
        for line in self:
            if line.page_id:
                line.path = normalize_path(line.page_id.url)

    @api.constrains("path")
    def _check_path(self):
        for line in self:
            if not (line.path or "").strip().startswith("/"):
                raise ValidationError(_("Funnel “%(funnel)s”: write each page as a path starting with /, e.g. "
                                        "/pricing (not “%(path)s”).", funnel=line.funnel_id.name, path=line.path or ""))
