from odoo import fields, models

from .salesjet_facebook_form import MAPPABLE_FIELDS


class SalesjetFacebookFormField(models.Model):
    _name = "salesjet.facebook.form.field"
    _description = "Facebook Lead Form Field Mapping"
    _order = "form_id, id"

    form_id = fields.Many2one("salesjet.facebook.form", string="Form", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="form_id.company_id", store=True, index=True)
    facebook_field = fields.Char(string="Facebook field", required=True,
                                 help="The field's name in the lead form, e.g. email, full_name, phone_number.")
    partner_field = fields.Selection(MAPPABLE_FIELDS, string="Contact field", required=True)
