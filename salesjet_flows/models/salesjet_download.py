import secrets

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class SalesjetDownload(models.Model):
    _name = "salesjet.download"
    _description = "Tracked Download"
    _order = "name, id"

    name = fields.Char(required=True, translate=True, help="What the file is, e.g. Pricing guide 2026.")
    active = fields.Boolean(default=True, help="An archived file's link answers “not found”.")
    company_id = fields.Many2one("res.company", string="Company", required=True, index=True,
                                 default=lambda self: self.env.company)
    file = fields.Binary(attachment=True, required=True)
    file_name = fields.Char(string="File name")
    token = fields.Char(
        required=True, copy=False, readonly=True, index=True,
        default=lambda self: secrets.token_urlsafe(24),
        help="The secret part of the public link. Regenerate it to disable links already shared.",
    )
    url = fields.Char(string="Public link", compute="_compute_url",
                      help="Share this link: it serves the file and starts the flows of identified visitors.")
    download_count = fields.Integer(string="Downloads", readonly=True, copy=False, default=0)

    _sql_constraints = [("token_uniq", "UNIQUE(token)", "Two files cannot share a link.")]

    @api.depends("token")
    def _compute_url(self):
        base = self.get_base_url()
        for download in self:
            download.url = f"{base}/salesjet/download/{download.token}" if download.token else False

    @api.constrains("file_name")
    def _check_file_name(self):
        for download in self:
            if download.file_name and ("/" in download.file_name or "\\" in download.file_name):
                raise ValidationError(_("The file name of “%s” cannot contain / or \\.", download.name))

    def action_regenerate_token(self):
        """Give the file a new link; the old one stops working."""
        for download in self:
            download.token = secrets.token_urlsafe(24)
        return True
