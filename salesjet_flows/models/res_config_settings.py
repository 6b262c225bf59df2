
from odoo import api, fields, models

from .salesjet_call_provider import DEFAULT_TWILIO_BASE
from .salesjet_facebook_form import DEFAULT_GRAPH_URL, DEFAULT_GRAPH_VERSION
from .salesjet_flow_job import DEFAULT_BATCH_SIZE


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    salesjet_job_batch_size = fields.Integer(
        string="Jobs per batch", default=DEFAULT_BATCH_SIZE, config_parameter="salesjet_flows.job_batch_size",
        help="How many due jobs a scheduler worker takes, runs and commits at once.",
    )
    salesjet_job_max_attempts = fields.Integer(
        string="Attempts before a job fails", default=5, config_parameter="salesjet_flows.job_max_attempts",
        help="A job whose step raises an error is retried after 1, 4, 16... minutes, up to this many attempts.",
    )

    salesjet_job_retention_days = fields.Integer(
        string="Keep ended jobs (days)", default=180, config_parameter="salesjet_flows.job_retention_days",
        help="Done, skipped and cancelled jobs older than this many days are deleted in batches by the scheduled "
             "action “Flows: delete old ended jobs”; the step counters keep counting them, so statistics and "
             "A/B results do not change. Failed and waiting jobs are kept. 0 keeps every job.",
    )

    # ---- Phone calls and webhooks ----
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

    # ---- Event sources ----
    salesjet_facebook_verify_token = fields.Char(
        string="Facebook verify token", config_parameter="salesjet_flows.facebook_verify_token",
        help="The Verify Token you type in the webhook settings of your Facebook app; Facebook sends it back "
             "once to check the callback URL.",
    )
    salesjet_facebook_app_secret = fields.Char(
        string="Facebook app secret", config_parameter="salesjet_flows.facebook_app_secret",
        groups="base.group_system",
        help="The App Secret of your Facebook app: every lead notification is signed with it, "
             "and unsigned or wrongly signed notifications are refused.",
    )
    salesjet_facebook_graph_url = fields.Char(
        string="Graph API address", config_parameter="salesjet_flows.facebook_graph_url", default=DEFAULT_GRAPH_URL,
        help="Where leads are read from; change it only for tests or a proxy.",
    )
    salesjet_facebook_graph_version = fields.Char(
        string="Graph API version", config_parameter="salesjet_flows.facebook_graph_version",
        default=DEFAULT_GRAPH_VERSION,
    )

    # ---- Frequency caps ----
    salesjet_cap_email_day = fields.Integer(related="company_id.salesjet_cap_email_day", readonly=False)
    salesjet_cap_email_week = fields.Integer(related="company_id.salesjet_cap_email_week", readonly=False)
    salesjet_cap_sms_day = fields.Integer(related="company_id.salesjet_cap_sms_day", readonly=False)
    salesjet_cap_sms_week = fields.Integer(related="company_id.salesjet_cap_sms_week", readonly=False)
    salesjet_cap_call_day = fields.Integer(related="company_id.salesjet_cap_call_day", readonly=False)
    salesjet_cap_call_week = fields.Integer(related="company_id.salesjet_cap_call_week", readonly=False)
    salesjet_cap_mode = fields.Selection(related="company_id.salesjet_cap_mode", readonly=False)
