from odoo import api, models


class SalesjetFlowTransfer(models.AbstractModel):
    """Message chains travel with their messages and buttons; the steps the messages generate do not
    (importing the messages generates them again)."""
    _inherit = "salesjet.flow.transfer"

    @api.model
    def _transfer_children(self):
        children = super()._transfer_children()
        children.setdefault("salesjet.flow", []).append("chain_message_ids")
        children.setdefault("salesjet.chain.message", []).append("button_ids")
        return children

    @api.model
    def _transfer_skip(self, record):
        if record._name == "salesjet.flow.step" and record.chain_message_id:
            return True
        return super()._transfer_skip(record)
