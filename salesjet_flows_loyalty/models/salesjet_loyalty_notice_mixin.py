from odoo import fields, models


class SalesjetLoyaltyNoticeMixin(models.AbstractModel):
    """Bonus points of a programme, valid N days, with the notices sent before and at their expiry: the settings
    the "Accrue bonus points" step and a chain message with points share (declared once here)."""
    _name = "salesjet.loyalty.notice.mixin"
    _description = "Bonus points with expiry notices"

    loyalty_program_id = fields.Many2one(
        "loyalty.program", string="Loyalty programme", ondelete="restrict",
        check_company=True,
        domain=[("program_type", "=", "loyalty")],
        help="The loyalty programme whose card receives the points; a card is created for contacts who have none.")
    loyalty_validity_days = fields.Integer(
        string="Points valid for (days)", default=30, help="The points expire this many days after they were given. "
                                                    "0: they never expire.")
    loyalty_notice_days = fields.Integer(
        string="Notice days before expiry", default=3,
        help="How many days before the points expire the client gets the notice below.")
    loyalty_notice_before_text = fields.Text(
        string="Notice before expiry", translate=True,
        help="Optional. Sent by email (or SMS to contacts without email) before the points expire. "
             "Placeholders: {{ object.name }} (the contact), {{ points }}, {{ expiry }}.")
    loyalty_notice_expired_text = fields.Text(
        string="Notice at expiry", translate=True,
        help="Optional. Sent when the points have expired. Placeholders: {{ object.name }}, {{ points }}, "
             "{{ expiry }}.")
