import base64
import binascii

from odoo import _, fields, models
from odoo.exceptions import UserError

MAX_IMPORT_BYTES = 5 * 1024 * 1024


class SalesjetFlowImport(models.TransientModel):
    _name = "salesjet.flow.import"
    _description = "Import Flows from a File"

    file = fields.Binary(string="Flow export", required=True, help="A .salesjet.json file made by Export.")
    filename = fields.Char()

    def action_import(self):
        self.ensure_one()
        try:
            raw = base64.b64decode(self.file or b"", validate=True)
        except (binascii.Error, ValueError) as e:
            raise UserError(_("The file could not be read.")) from e
        if len(raw) > MAX_IMPORT_BYTES:
            raise UserError(_("This file is larger than 5 MB: it is not a flow export."))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise UserError(_("This file is not a flow export: it is not UTF-8 text.")) from e
        flows = self.env["salesjet.flow.transfer"].import_flows(text)
        action = self.env["ir.actions.act_window"]._for_xml_id("salesjet_flows.salesjet_flow_action")
        if len(flows) == 1:
            action.update(res_id=flows.id, view_mode="form", views=[(False, "form")])
        else:
            action["domain"] = [("id", "in", flows.ids)]
        return action
