from odoo import models


class MailingTrace(models.Model):
    _inherit = "mailing.trace"

    # ---- Event sources ----
    def set_opened(self, domain=None):
        traces = super().set_opened(domain=domain)
        traces._salesjet_post("email_open")
        return traces

    def set_clicked(self, domain=None):
        traces = super().set_clicked(domain=domain)
        traces._salesjet_post("email_click")
        return traces

    def set_replied(self, domain=None):
        traces = super().set_replied(domain=domain)
        traces._salesjet_post("email_reply")
        return traces

    def set_bounced(self, domain=None, bounce_message=False):
        traces = super().set_bounced(domain=domain, bounce_message=bounce_message)
        traces._salesjet_post("email_bounce")
        return traces

    def _salesjet_post(self, kind):
        """One event per trace of a contact and kind (the external id makes a second open a no-op)."""
        traces = self.sudo().filtered(lambda t: t.model == "res.partner" and t.res_id and t.trace_type == "mail")
        if not traces or not self.env["salesjet.flow.trigger"]._listening_company_ids(kind):
            return
        partners = self.env["res.partner"].sudo().browse(traces.mapped("res_id")).exists()
        existing = set(partners.ids)
        self.env["salesjet.event"]._post_safely([
            (self.env["res.partner"].sudo().browse(trace.res_id),
             {"trace_id": trace.id, "mailing_id": trace.mass_mailing_id.id, "email": trace.email or ""},
             f"trace:{trace.id}")
            for trace in traces if trace.res_id in existing
        ], kind, "mailing")
