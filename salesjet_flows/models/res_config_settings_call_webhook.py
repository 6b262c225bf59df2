from odoo import api, fields, models

from .salesjet_call_provider import DEFAULT_TWILIO_BASE


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    salesjet_call_provider = fields.Selection(
        selection="_salesjet_call_providers", string="Phone calls through",
        default="activity", config_parameter="salesjet_flows.call_provider",
        help="Who places the calls of “Phone call” steps: a Twilio-compatible telephony API, or nobody: "
             "an activity with the script is planned for the contact's salesperson.",
    )
    salesjet_twilio_account_sid = fields.Char(
        string="Account SID", config_parameter="salesjet_flows.twilio_account_sid",
        help="The account SID of your Twilio (or compatible) account, e.g. AC0123...",
    )
    salesjet_twilio_auth_token = fields.Char(
        string="Auth token", config_parameter="salesjet_flows.twilio_auth_token",
        help="The account's auth token; requests use it with the SID as HTTP basic authentication.",
    )
    salesjet_twilio_base_url = fields.Char(
        string="API base URL", default=DEFAULT_TWILIO_BASE, config_parameter="salesjet_flows.twilio_base_url",
        help="Change it only for a Twilio-compatible provider; calls are posted to "
             "<base>/2010-04-01/Accounts/<SID>/Calls.json.",
    )
    salesjet_webhook_allow_private = fields.Boolean(
        string="Allow webhooks to private addresses", config_parameter="salesjet_flows.webhook_allow_private",
        help="Let webhook steps reach loopback, private, link-local and reserved addresses (your own network). "
             "Off, such URLs are refused when saved and again when sent, so a flow cannot probe your servers.",
    )

    @api.model
    def _salesjet_call_providers(self):
        return self.env["salesjet.call.provider"]._providers()
