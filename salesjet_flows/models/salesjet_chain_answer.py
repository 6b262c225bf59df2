from odoo import _, api, fields, models
from odoo.tools import SQL


class SalesjetChainAnswer(models.Model):
    """A client's answer to one chain message: recorded once, by the first button clicked."""
    _name = "salesjet.chain.answer"
    _description = "Chain Answer"
    _order = "date desc, id desc"
    _rec_name = "button_id"

    enrollment_id = fields.Many2one("salesjet.flow.enrollment", string="Run", required=True, ondelete="cascade",
                                    index=True)
    message_id = fields.Many2one("salesjet.chain.message", string="Message", required=True, ondelete="cascade",
                                 index=True)
    button_id = fields.Many2one("salesjet.chain.button", string="Answer", required=True, ondelete="cascade")
    flow_id = fields.Many2one("salesjet.flow", string="Chain", required=True, ondelete="cascade", index=True)
    partner_id = fields.Many2one("res.partner", string="Contact", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one("res.company", string="Company", required=True, index=True)
    date = fields.Datetime(string="Answered on", required=True, default=fields.Datetime.now)

    _sql_constraints = [
        ("answer_once", "UNIQUE(enrollment_id, message_id)", "A client answers each chain message once."),
    ]

    @api.model
    def _record(self, enrollment, button):
        """Record ``button`` as the answer of ``enrollment`` to its message, unless one is already recorded.

        One statement, safe against double clicks arriving at once.

        :return: (the answer of record, True if it was recorded by this call)
        """
        message = button.message_id
        self.env.cr.execute(SQL(
            """
            INSERT INTO salesjet_chain_answer
                (enrollment_id, message_id, button_id, flow_id, partner_id, company_id, date,
                 create_uid, create_date, write_uid, write_date)
            VALUES (%(e)s, %(m)s, %(b)s, %(f)s, %(p)s, %(c)s, %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s)
            ON CONFLICT (enrollment_id, message_id) DO NOTHING
            RETURNING id
            """,
            e=enrollment.id, m=message.id, b=button.id, f=enrollment.flow_id.id, p=enrollment.partner_id.id,
            c=enrollment.company_id.id, now=fields.Datetime.now(), uid=self.env.uid,
        ))
        row = self.env.cr.fetchone()
        if row:
            answer = self.browse(row[0])
            if button.kind == "segment" and button.tag_id:
                enrollment.partner_id.sudo().write({"category_id": [(4, button.tag_id.id)]})
            return answer, True
        answer = self.search([("enrollment_id", "=", enrollment.id), ("message_id", "=", message.id)], limit=1)
        return answer, False

    @api.model
    def _action_open(self, domain):
        """The list of answers matching ``domain`` (of a message, of a flow)."""
        return {
            "type": "ir.actions.act_window",
            "name": _("Answers"),
            "res_model": self._name,
            "view_mode": "list,form",
            "domain": domain,
        }
