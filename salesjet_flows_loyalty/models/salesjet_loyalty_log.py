from odoo import fields, models, tools
from odoo.tools import SQL

LOG_KINDS = [
    ("step", "Step"),
    ("notice_before", "Expiry notice"),
    ("notice_expired", "Expired notice"),
]


class SalesjetLoyaltyLog(models.Model):
    """What loyalty scenarios and message chains sent: one line per step run done, plus expiry notices.

    A read-only SQL view over jobs (with the points they accrued) and accrual notices.
    """
    _name = "salesjet.loyalty.log"
    _description = "Loyalty and Chain Sent Log"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "partner_id"

    date = fields.Datetime(readonly=True)
    flow_id = fields.Many2one("salesjet.flow", string="Scenario", readonly=True)
    flow_kind = fields.Selection(related="flow_id.kind", string="Kind")
    step_id = fields.Many2one("salesjet.flow.step", string="Step", readonly=True)
    kind = fields.Selection(LOG_KINDS, string="What", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Contact", readonly=True)
    channel = fields.Selection([("email", "Email"), ("sms", "SMS")], readonly=True)
    address = fields.Char(string="Email or phone", readonly=True)
    points = fields.Float(readonly=True, help="Points accrued (or concerned by a notice).")
    result = fields.Text(readonly=True)
    company_id = fields.Many2one("res.company", string="Company", readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL(
            """
            CREATE OR REPLACE VIEW %(view)s AS (
                SELECT j.id * 3 AS id, j.date_done AS date, j.flow_id, j.step_id, 'step' AS kind, j.partner_id,
                       CASE WHEN j.res_model = 'sms.sms' THEN 'sms'
                            WHEN j.res_model = 'mail.mail' THEN 'email' END AS channel,
                       CASE WHEN j.res_model = 'sms.sms' THEN COALESCE(s.number, p.mobile, p.phone)
                            WHEN j.res_model = 'mail.mail' THEN p.email END AS address,
                       a.points, j.result, j.company_id
                  FROM salesjet_flow_job j
                  JOIN salesjet_flow f ON f.id = j.flow_id AND f.kind IN ('loyalty', 'chain')
                  JOIN res_partner p ON p.id = j.partner_id
                  LEFT JOIN sms_sms s ON j.res_model = 'sms.sms' AND s.id = j.res_id
                  LEFT JOIN LATERAL (SELECT sum(points) AS points FROM salesjet_loyalty_accrual
                                      WHERE job_id = j.id) a ON TRUE
                 WHERE j.state = 'done'
                UNION ALL
                SELECT a.id * 3 + 1, a.notice_before_date, a.flow_id, a.step_id, 'notice_before', a.partner_id,
                       CASE WHEN strpos(a.notice_before_address, '@') > 0 THEN 'email' ELSE 'sms' END,
                       a.notice_before_address, a.points, NULL, a.company_id
                  FROM salesjet_loyalty_accrual a WHERE a.notice_before_address IS NOT NULL
                UNION ALL
                SELECT a.id * 3 + 2, a.notice_expired_date, a.flow_id, a.step_id, 'notice_expired', a.partner_id,
                       CASE WHEN strpos(a.notice_expired_address, '@') > 0 THEN 'email' ELSE 'sms' END,
                       a.notice_expired_address, a.expired_points, NULL, a.company_id
                  FROM salesjet_loyalty_accrual a WHERE a.notice_expired_address IS NOT NULL
            )
            """,
            view=SQL.identifier(self._table),
        ))
