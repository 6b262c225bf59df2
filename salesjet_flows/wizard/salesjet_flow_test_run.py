import json

from odoo import _, fields, models
from odoo.exceptions import UserError


class SalesjetFlowTestRun(models.TransientModel):
    """Walk a contact through a flow on a simulated clock, showing what each step would do.

    Nothing real happens: steps are rendered (``_preview``), never executed,
    and no run or job is created. Only when asked, email and SMS steps are sent
    to a test address, through the step test wizard.
    """
    _name = "salesjet.flow.test.run"
    _description = "Flow Test Run"

    flow_id = fields.Many2one("salesjet.flow", string="Flow", required=True, ondelete="cascade")
    partner_id = fields.Many2one(
        "res.partner", string="Contact", required=True, default=lambda self: self.env.user.partner_id,
        help="The contact whose data fills the messages and decides the conditions. Nothing is done to it.",
    )
    data_text = fields.Text(
        string="Event data", default="{}",
        help='The data of the event that would start the run, as a JSON object, e.g. {"plan": "gold"}.',
    )
    real_send = fields.Boolean(string="Really send emails and SMS to a test address")
    test_email = fields.Char(string="Test email", default=lambda self: self.env.user.email)
    test_phone = fields.Char(string="Test phone", help="In international form, e.g. +32 470 12 34 56.")
    state = fields.Selection([("draft", "Not started"), ("running", "Running"), ("done", "Finished")],
                             default="draft", required=True)
    date_start = fields.Datetime(string="Run started", readonly=True)
    sim_now = fields.Datetime(string="Simulated time", readonly=True)
    next_step_id = fields.Many2one("salesjet.flow.step", string="Next step", readonly=True)
    line_ids = fields.One2many("salesjet.flow.test.run.line", "run_id", string="Steps", readonly=True)

    # ------------------------------------------------------------------

    def _data(self):
        text = (self.data_text or "").strip() or "{}"
        try:
            data = json.loads(text)
        except ValueError as e:
            raise UserError(_("The event data is not valid JSON (%s). Write an object, e.g. {\"plan\": \"gold\"}.",
                              e)) from e
        if not isinstance(data, dict):
            raise UserError(_("The event data must be a JSON object, e.g. {\"plan\": \"gold\"}, "
                              "not a list or a value."))
        return data

    def _start(self):
        self._data()
        if self.real_send and not (self.test_email or self.test_phone):
            raise UserError(_("Give the test email address or phone number to really send the messages to."))
        now = fields.Datetime.now()
        first = self.flow_id.step_ids.filtered("active")[:1]
        self.write({"state": "running" if first else "done", "date_start": now, "sim_now": now,
                    "next_step_id": first.id})
        self.line_ids.unlink()

    def _add_line(self, step, date, outcome, text, preview=None):
        self.env["salesjet.flow.test.run.line"].create({
            "run_id": self.id, "sequence": len(self.line_ids) + 1, "step_id": step.id if step else False,
            "date": date, "outcome": outcome, "note": text, "preview_html": preview,
        })

    def _simulate_step(self):
        """Simulate the next step: when it would run, whether its conditions hold, what it would do."""
        step = self.next_step_id
        partner, data = self.partner_id, self._data()
        flow = self.flow_id
        # the engine's own timing code, on the simulated clock; event dates come from the test's data
        step_ctx = step.with_context(salesjet_test_data=data)
        date = step_ctx._compute_scheduled_dates(
            self.sim_now, [(partner.id, flow.company_id.id, self.date_start, 0)])[0]
        self.sim_now = max(date, self.sim_now)
        next_step = step._next_step()
        if flow._goal_reached_by(flow._goal_domain(), [partner.id]):
            self._add_line(step, self.sim_now, "converted",
                           _("The contact meets the flow's goal: the run would end as converted."))
            self.write({"state": "done", "next_step_id": False})
            return
        if step.timing == "relative" and step_ctx._relative_dates([partner.id], [0])[0] is None:
            self._add_line(step, self.sim_now, "skipped", _("No date to count from: the step would be skipped."))
            self.next_step_id = next_step
            self.state = "running" if next_step else "done"
            return
        conditions = step.condition_ids.with_context(salesjet_now=self.sim_now,
                                                     salesjet_event_data=json.dumps({partner.id: self._data()}))
        if conditions and not conditions._filter(partner):
            if step.on_condition_fail == "stop":
                self._add_line(step, self.sim_now, "stopped",
                               _("Conditions not met (%s): the run would stop.", conditions._describe()))
                self.write({"state": "done", "next_step_id": False})
                return
            if step.on_condition_fail == "wait":
                self._add_line(step, self.sim_now, "skipped", _(
                    "Conditions not met (%(conditions)s): the contact would wait until they hold, at most %(days)s "
                    "days, then the step would be skipped.", conditions=conditions._describe(),
                    days=step.wait_max_days))
            else:
                self._add_line(step, self.sim_now, "skipped",
                               _("Conditions not met (%s): the step would be skipped.", conditions._describe()))
        else:
            outcome, text = "run", step.summary
            if step.repeat:
                units = dict(step._fields["repeat_unit"]._description_selection(self.env))
                text += _(" — would repeat every %(value)s %(unit)s, at most %(max)s times, while the conditions hold.",
                          value=step.repeat_interval, unit=units.get(step.repeat_unit, "").lower(),
                          max=step.repeat_max)
            preview = step.with_context(salesjet_now=self.sim_now)._preview(partner, data)
            if self.real_send and step.action_type in ("email", "sms"):
                outcome, sent = self._send_for_real(step)
                text += " — " + sent
            self._add_line(step, self.sim_now, outcome, text, preview)
        self.next_step_id = next_step
        if not next_step:
            self.state = "done"

    def _send_for_real(self, step):
        """Send an email or SMS step to the test address only, with the step test wizard."""
        if step.action_type == "email" and not self.test_email:
            return "run", _("no test email address: not sent")
        if step.action_type == "sms" and not self.test_phone:
            return "run", _("no test phone number: not sent")
        tester = self.env["salesjet.step.test"].create({
            "step_id": step.id, "partner_id": self.partner_id.id,
            "email_to": self.test_email, "phone_to": self.test_phone,
        })
        params = tester.action_send()["params"]
        return ("sent" if params["type"] == "success" else "run"), params["message"]

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": self.env.context,
        }

    def action_next_step(self):
        """Simulate one more step."""
        self.ensure_one()
        if self.state == "draft":
            self._start()
        if self.state == "running":
            self._simulate_step()
        return self._reopen()

    def action_run_to_end(self):
        """Simulate every remaining step."""
        self.ensure_one()
        if self.state == "draft":
            self._start()
        for _i in range(1000):  # a flow is finite; the bound only guards against surprises
            if self.state != "running":
                break
            self._simulate_step()
        return self._reopen()

    def action_restart(self):
        self.ensure_one()
        self.line_ids.unlink()
        self.write({"state": "draft", "next_step_id": False, "sim_now": False, "date_start": False})
        return self._reopen()
