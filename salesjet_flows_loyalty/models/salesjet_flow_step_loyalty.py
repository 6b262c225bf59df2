from dateutil.relativedelta import relativedelta
from markupsafe import escape

from odoo import _, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from odoo.addons.salesjet_flows.models.salesjet_flow_step_render import check_placeholder_policy

from .salesjet_loyalty_accrual import INTERNAL, NOTICE_NAMES, format_points


class SalesjetFlowStep(models.Model):
    """Accrue bonus points on the contact's loyalty card, valid N days, with optional expiry notices."""
    _name = "salesjet.flow.step"
    _inherit = ["salesjet.flow.step", "salesjet.loyalty.notice.mixin"]

    action_type = fields.Selection(selection_add=[("loyalty_accrue", "Accrue bonus points")],
                                   ondelete={"loyalty_accrue": "cascade"})
    loyalty_points = fields.Float(string="Points", default=100)

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
        return self.loyalty_notice_before_text if which == "before" else self.loyalty_notice_expired_text

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
