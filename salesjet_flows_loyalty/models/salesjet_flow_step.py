from dateutil.relativedelta import relativedelta
from markupsafe import Markup, escape

from odoo import Command, _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL, format_date

from odoo.addons.salesjet_flows.tools.placeholders import check_placeholder_policy

from .salesjet_loyalty_accrual import INTERNAL, NOTICE_NAMES, format_points


class SalesjetFlowStep(models.Model):
    """Accrue bonus points on the contact's loyalty card, valid N days, with optional expiry notices."""
    _name = "salesjet.flow.step"
    _inherit = ["salesjet.flow.step", "salesjet.loyalty.notice.mixin"]

    action_type = fields.Selection(selection_add=[("loyalty_accrue", "Accrue bonus points")],
                                   ondelete={"loyalty_accrue": "cascade"})
    loyalty_points = fields.Float(string="Points", default=100)

    def _diagram_icon(self):
        return "fa-star" if self.action_type == "loyalty_accrue" else super()._diagram_icon()

    def _action_family(self):
        return "loyalty" if self.action_type == "loyalty_accrue" else super()._action_family()

    def _action_help(self):
        if self.action_type == "loyalty_accrue":
            return _("Add bonus points to the contact's loyalty card, valid for a number of days.")
        return super()._action_help()

    @api.model
    def _placeholder_methods(self):
        # {{ object.salesjet_offer_coupon() }} (the newest running coupon) or (step id): a loyalty.card
        return {**super()._placeholder_methods(), "salesjet_offer_coupon": ("res.partner", "loyalty.card", 1)}

    def _settings_fields(self):
        return super()._settings_fields() + [
            "loyalty_program_id", "loyalty_points", "loyalty_validity_days", "loyalty_notice_days",
            "loyalty_notice_before_text", "loyalty_notice_expired_text",
        ]

    def _check_action_loyalty_accrue(self):
        if not self.loyalty_program_id:
            raise ValidationError(_("Step “%s”: choose the loyalty programme that receives the points.",
                                    self.display_name))
        if self.loyalty_program_id.program_type != "loyalty":
            raise ValidationError(_("Step “%(step)s”: “%(program)s” is not a loyalty card programme; choose one of "
                                    "type “Loyalty Cards”.",
                                    step=self.display_name, program=self.loyalty_program_id.name))
        if self.loyalty_points <= 0:
            raise ValidationError(_("Step “%s”: give a positive number of points.", self.display_name))
        if self.loyalty_validity_days < 0 or self.loyalty_notice_days < 0:
            raise ValidationError(_("Step “%s”: validity and notice days cannot be negative.", self.display_name))
        notices = (self.loyalty_notice_before_text or "").strip() or (self.loyalty_notice_expired_text or "").strip()
        if notices and not self.loyalty_validity_days:
            raise ValidationError(_("Step “%s”: the points never expire (validity 0 days), so there is no expiry "
                                    "to notify; set how long they are valid or remove the notices.", self.display_name))
        if (self.loyalty_notice_before_text or "").strip() and self.loyalty_notice_days >= self.loyalty_validity_days:
            raise ValidationError(_("Step “%s”: the notice must come before the expiry: fewer notice days than "
                                    "validity days.", self.display_name))
        for text, label in ((self.loyalty_notice_before_text, _("notice before expiry")),
                            (self.loyalty_notice_expired_text, _("notice at expiry"))):
            self._check_notice_renders(text, label)

    def _check_notice_renders(self, source, label):
        if not (source or "").strip():
            return
        check_placeholder_policy(self.env, source, _("Step “%(step)s”, %(label)s", step=self.display_name,
                                                        label=label), extra=NOTICE_NAMES)
        try:
            self.env["mail.render.mixin"]._render_template(
                source, "res.partner", self.env.user.partner_id.ids,
                add_context={"points": "10", "expiry": "2026-12-31", "lead": self.env["crm.lead"], "event": {},
                             "company": self._placeholder_company()})
        except Exception as e:  # noqa: BLE001 - any rendering error is the user's to fix
            raise ValidationError(_(
                "Step “%(step)s”: the %(label)s does not render: %(error)s. Placeholders: {{ object.name }}, "
                "{{ points }}, {{ expiry }}.", step=self.display_name, label=label, error=escape(str(e)))) from e

    def _loyalty_notice_text(self, which):
        """The text of the expiry notice ``which`` ("before" or "expired") for the points this step gave,
        in the context's language (a chain message's step reads its message's notices)."""
        source = self.chain_message_id if self.action_type == "chain_message" and self.chain_message_id else self
        return source.loyalty_notice_before_text if which == "before" else source.loyalty_notice_expired_text

    # ------------------------------------------------------------------
    # Execution
    # ------------------------------------------------------------------

    def _action_loyalty_accrue(self, jobs):
        accruals = self._loyalty_accrue(jobs, self.loyalty_program_id, self.loyalty_points,
                                        self.loyalty_validity_days, self.loyalty_notice_days
                                        if (self.loyalty_notice_before_text or "").strip() else None)
        for job in jobs:
            accrual = accruals[job.id]
            message = (_("%(points)s points accrued, valid until %(date)s", points=format_points(accrual.points),
                         date=fields.Date.to_string(fields.Date.to_date(accrual.date_expiry)))
                       if accrual.date_expiry else _("%s points accrued", format_points(accrual.points)))
            job._set_result(message, accrual)

    def _loyalty_accrue(self, jobs, program, points, validity_days, notice_days=None):
        """Add ``points`` to each job's contact's card of ``program`` (created in one batch if missing)
        and record one accrual per job, expiring ``validity_days`` from now.

        :return: {job id: salesjet.loyalty.accrual}
        """
        program = program.sudo()
        Card = self.env["loyalty.card"].sudo()
        partners = jobs.partner_id
        cards = {}
        for card in Card.search([("program_id", "=", program.id), ("partner_id", "in", partners.ids)], order="id"):
            cards.setdefault(card.partner_id.id, card)
        missing = [partner_id for partner_id in partners.ids if partner_id not in cards]
        if missing:
            created = Card.create([{"program_id": program.id, "partner_id": partner_id, "points": 0}
                                   for partner_id in missing])
            cards.update(zip(missing, created, strict=True))
        per_card = {}
        for job in jobs:
            card = cards[job.partner_id.id]
            per_card[card.id] = per_card.get(card.id, 0.0) + points
        Card.flush_model()
        self.env.cr.execute(SQL(
            """
            UPDATE loyalty_card c
               SET points = COALESCE(c.points, 0) + v.points, write_date = %(now)s, write_uid = %(uid)s
              FROM unnest(%(ids)s::int[], %(points)s::float[]) AS v(id, points)
             WHERE c.id = v.id
            """,
            ids=list(per_card), points=list(per_card.values()), now=fields.Datetime.now(), uid=self.env.uid,
        ))
        Card.invalidate_model(["points", "points_display", "write_date", "write_uid"])
        description = _("Bonus points from %s", self.flow_id.name)
        self.env["loyalty.history"].sudo().with_context(**{INTERNAL: True}).create([
            {"card_id": card_id, "description": description, "issued": issued, "used": 0}
            for card_id, issued in per_card.items()])
        now = fields.Datetime.now()
        expiry = now + relativedelta(days=validity_days) if validity_days else False
        notice = expiry - relativedelta(days=notice_days) if expiry and notice_days is not None else False
        accruals = self.env["salesjet.loyalty.accrual"].sudo().create([{
            "partner_id": job.partner_id.id,
            "card_id": cards[job.partner_id.id].id,
            "program_id": program.id,
            "company_id": job.company_id.id,
            "points": points,
            "remaining": points,
            "date": now,
            "date_expiry": expiry,
            "date_notice": notice,
            "job_id": job.id,
            "flow_id": self.flow_id.id,
            "step_id": self.id,
        } for job in jobs])
        return dict(zip(jobs.ids, accruals, strict=True))

    # ---- Message chains ----
    def _action_chain_message(self, jobs):
        super()._action_chain_message(jobs)
        message = self.chain_message_id
        if not (message.points > 0 and message.loyalty_program_id):
            return
        outcomes = jobs._outcomes() or {}
        # points come with the message: contacts it could not reach get none
        sent = jobs.filtered(lambda j: outcomes.get(j.id, ("done",))[0] == "done")
        if sent:
            self._loyalty_accrue(sent, message.loyalty_program_id, message.points, message.loyalty_validity_days,
                                 message.loyalty_notice_days
                                 if (message.loyalty_notice_before_text or "").strip() else None)

    # ---- Test-run previews ----
    def _preview_loyalty_accrue(self, partner, data):
        """Test runs: the points the contact would get, on top of the card's current balance."""
        card = self.env["loyalty.card"].sudo().search(
            [("program_id", "=", self.loyalty_program_id.id), ("partner_id", "=", partner.id)], limit=1)
        text = _("Adds %(points)s points to the “%(program)s” card (now %(balance)s points).",
                 points=self.loyalty_points, program=self.loyalty_program_id.name, balance=card.points or 0)
        if self.loyalty_validity_days:
            text += " " + _("They expire after %s days.", self.loyalty_validity_days)
        return Markup("<p>%s</p>") % text

    # ---- Coupons ----
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
