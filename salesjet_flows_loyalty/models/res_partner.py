from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    salesjet_birthday = fields.Date(
        string="Birthday",
        help="Loyalty scenarios can greet the contact (and give bonus points) a few days before it.")
