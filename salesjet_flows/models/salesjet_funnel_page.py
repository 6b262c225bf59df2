from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..tools.paths import normalize_path


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
        compute="_compute_path", store=True, readonly=False, required=True, precompute=True,
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
