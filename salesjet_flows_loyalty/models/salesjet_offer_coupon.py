"""Special offers as personal coupon codes: Odoo's own way to give one customer a discount.

A special offer step of the core makes a personal pricelist, which Odoo keeps off websites. With
"as a personal coupon code", the step instead keeps a discount programme of its own (a ``loyalty.program`` of
type coupons on the offer's products) and gives each contact a coupon (``loyalty.card``) valid until the offer's
end. The code works wherever Odoo takes coupon codes: quotations (sale_loyalty) and the website shop's cart
(website_sale_loyalty). Messages place it with ``{{ object.salesjet_offer_coupon().code }}``.
"""
from odoo import Command, _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import format_date

from odoo.addons.salesjet_flows.models.salesjet_flow_step_render import PLACEHOLDER_METHODS

# {{ object.salesjet_offer_coupon() }} (the newest running coupon) or (step id): a loyalty.card
PLACEHOLDER_METHODS.setdefault("salesjet_offer_coupon", ("res.partner", "loyalty.card", 1))


class LoyaltyProgram(models.Model):
    _inherit = "loyalty.program"

    salesjet_offer_step_id = fields.Many2one(
        "salesjet.flow.step", string="SalesJet offer step", ondelete="set null", index="btree_not_null",
        readonly=True, help="The special offer step whose personal coupons this programme holds.")


class SalesjetFlowStep(models.Model):
    _inherit = "salesjet.flow.step"

    offer_as_coupon = fields.Boolean(
        string="As a personal coupon code",
        help="Give each contact a personal coupon code of a discount programme made for this step, usable once "
             "in quotations and in the website shop until the offer ends, instead of a personal pricelist "
             "(which the shop does not show). Place the code in a message with "
             "{{ object.salesjet_offer_coupon().code }}.")
    offer_program_id = fields.Many2one(
        "loyalty.program", string="Coupon programme", readonly=True, copy=False, ondelete="set null",
        help="The discount programme this step keeps for its personal coupons.")

    @api.constrains("action_type", "offer_as_coupon", "offer_price_type")
    def _check_offer_coupon(self):
        for step in self:
            if step.action_type == "offer_create" and step.offer_as_coupon and step.offer_price_type != "discount":
                raise ValidationError(_("Step “%s”: a personal coupon code gives a percentage off; choose a "
                                        "discount, or untick “As a personal coupon code” for a fixed price.",
                                        step.display_name))

    def _offer_program_vals(self):
        return {
            "name": _("SalesJet offer: %s", self.display_name),
            "program_type": "coupons",
            "trigger": "with_code",
            "applies_on": "current",
            "company_id": self.company_id.id,
            "salesjet_offer_step_id": self.id,
            "rule_ids": [Command.clear()],
            # the flow's own message carries the code: no mail from the programme
            "communication_plan_ids": [Command.clear()],
        }

    def _offer_reward_vals(self):
        return {
            "reward_type": "discount",
            "discount": self.offer_discount,
            "discount_mode": "percent",
            "discount_applicability": "specific",
            "discount_product_ids": [Command.set(self.offer_product_ids.ids)],
            "required_points": 1,
        }

    def _offer_program(self):
        """This step's coupon programme, created on first use and kept in line with the step's settings."""
        self.ensure_one()
        Program = self.env["loyalty.program"].sudo()
        program = self.sudo().offer_program_id
        if not program or not program.exists():
            program = Program.create({**self._offer_program_vals(),
                                      "reward_ids": [Command.clear(), Command.create(self._offer_reward_vals())]})
            self.sudo().offer_program_id = program
            return program
        reward = program.reward_ids[:1]
        if (reward.discount != self.offer_discount or reward.discount_product_ids != self.offer_product_ids
                or not program.active):
            program.write({"active": True, "reward_ids": [Command.clear(), Command.create(self._offer_reward_vals())]})
        return program

    def _action_offer_create(self, jobs):
        if not self.offer_as_coupon:
            return super()._action_offer_create(jobs)
        now = fields.Datetime.now()
        valid_until = self._offer_end_date(now)
        if valid_until <= now:
            return super()._action_offer_create(jobs)  # skips the jobs with the reason
        cards = self._upsert_offer_coupons(jobs.partner_id.ids, valid_until.date())
        until = format_date(self.env, valid_until.date())
        for job in jobs:
            card = cards[job.partner_id.id]
            job._set_result(_("Personal coupon %(code)s: %(discount)s%% off until %(until)s.", code=card.code,
                              discount=self.offer_discount, until=until), card)
        return None

    def _upsert_offer_coupons(self, partner_ids, expiration):
        """One coupon per contact on this step's programme, usable once until ``expiration``: existing coupons
        are renewed, the others created, with one search and one create for the batch.

        :return: dict {partner_id: loyalty.card}
        """
        program = self._offer_program()
        Card = self.env["loyalty.card"].sudo()
        existing = Card.search([("program_id", "=", program.id), ("partner_id", "in", partner_ids)], order="id")
        by_partner = {card.partner_id.id: card for card in existing}
        if existing:
            existing.write({"points": 1, "expiration_date": expiration})
        missing = [pid for pid in dict.fromkeys(partner_ids) if pid not in by_partner]
        if missing:
            created = Card.create([{"program_id": program.id, "partner_id": pid, "points": 1,
                                    "expiration_date": expiration} for pid in missing])
            by_partner.update({card.partner_id.id: card for card in created})
        return by_partner

    def _action_offer_remove(self, jobs):
        """Also end the contacts' personal coupons (of the chosen offer step, else of every offer step)."""
        res = super()._action_offer_remove(jobs)
        domain = [("partner_id", "in", jobs.partner_id.ids), ("points", ">", 0),
                  ("program_id.salesjet_offer_step_id", "!=", False),
                  ("program_id.company_id", "in", [False, self.company_id.id])]
        if self.offer_source_step_id:
            domain.append(("program_id.salesjet_offer_step_id", "=", self.offer_source_step_id.id))
        cards = self.env["loyalty.card"].sudo().search(domain)
        cards.write({"points": 0})
        by_partner = cards.grouped("partner_id")
        for job in jobs:
            ended = by_partner.get(job.partner_id)
            if ended:
                job._set_result(_("Personal coupon ended: %s.", ", ".join(ended.mapped("code"))), ended[:1])
        return res


class ResPartner(models.Model):
    _inherit = "res.partner"

    def salesjet_offer_coupon(self, step_id=None):
        """The contact's newest usable personal coupon of a special offer step (of step ``step_id`` if given),
        or an empty record: for messages, ``{{ object.salesjet_offer_coupon().code }}``."""
        self.ensure_one()
        domain = [("partner_id", "=", self.id), ("points", ">", 0),
                  ("program_id.salesjet_offer_step_id", "!=", False),
                  "|", ("expiration_date", "=", False), ("expiration_date", ">=", fields.Date.context_today(self))]
        if step_id:
            domain.append(("program_id.salesjet_offer_step_id", "=", int(step_id)))
        return self.env["loyalty.card"].sudo().search(domain, order="id desc", limit=1)
