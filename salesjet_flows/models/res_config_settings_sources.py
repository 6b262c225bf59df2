from odoo import fields, models

from .salesjet_facebook_form import DEFAULT_GRAPH_URL, DEFAULT_GRAPH_VERSION


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

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
