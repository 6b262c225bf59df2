from odoo.addons.salesjet_flows.tests.common import SalesjetCase, factory


class LoyaltyCase(SalesjetCase):
    """A loyalty program, the personas of salesjet_flows, and factories for accrual steps and chains."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.email = "shop@example.com"
        cls.program = cls.env["loyalty.program"].create({"name": "SJ pet club", "program_type": "loyalty"})
        cls.Accrual = cls.env["salesjet.loyalty.accrual"]

    def accrue_step(self, **vals):
        return {"action_type": "loyalty_accrue", "loyalty_program_id": self.program.id, "loyalty_points": 100,
                "loyalty_validity_days": 10, **vals}

    @factory
    def make_chain(cls, messages, name="SJ fish chain", code="sj_chain"):
        """A message chain (a flow of kind chain) with its messages; ``code`` adds an API trigger."""
        chain = cls.env["salesjet.flow"].create({"state": "running",
            "name": name, "kind": "chain", "reentry_policy": "once"})
        cls.env["salesjet.chain.message"].create([{"flow_id": chain.id, "sequence": index, **vals}
                                                  for index, vals in enumerate(messages)])
        if code:
            cls.env["salesjet.flow.trigger"].create({"flow_id": chain.id, "trigger_type": "api", "event_code": code})
        return chain

    def card_of(self, partner):
        card = self.env["loyalty.card"].search([("program_id", "=", self.program.id), ("partner_id", "=", partner.id)])
        card.invalidate_recordset(["points"])
        return card

    def expire(self):
        self.Accrual._cron_expire()
        self.Accrual.invalidate_model()

    def mails_to(self, partner):
        return self.env["mail.mail"].search([("res_id", "=", partner.id), ("model", "=", "res.partner")], order="id")
