from odoo import fields, models


class CrmLead(models.Model):
    _inherit = "crm.lead"

    # ---- Runs ----
    salesjet_enrollment_count = fields.Integer(
        string="Flows", compute="_compute_salesjet_enrollment_count",
        groups="salesjet_flows.group_salesjet_user",
        help="How many runs of flows this lead has had, running and ended.")

    def _compute_salesjet_enrollment_count(self):
        data = dict(self.env["salesjet.flow.enrollment"]._read_group(
            [("lead_id", "in", self.ids)], ["lead_id"], ["__count"]))
        for lead in self:
            lead.salesjet_enrollment_count = data.get(lead, 0)

    def action_view_salesjet_enrollments(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("salesjet_flows.salesjet_flow_enrollment_action")
        action["domain"] = [("lead_id", "=", self.id)]
        action["context"] = {}
        return action

    # ---- Lead steps ----
    def _stage_find(self, team_id=False, domain=None, order="sequence, id", limit=1):
        # Odoo's action_set_won (and convert_opportunity) look the stage up once per lead, with the same
        # arguments for a whole batch: a lead step passes a cache in its context so that a batch of leads
        # costs one look-up per distinct question (see salesjet.flow.step.lead).
        cache = self.env.context.get("salesjet_stage_find_cache")
        if cache is None:
            return super()._stage_find(team_id=team_id, domain=domain, order=order, limit=limit)
        teams = {team_id} if team_id else set()
        teams.update(self.team_id.ids)
        key = (frozenset(teams), repr(domain), order, limit)
        if key not in cache:
            cache[key] = super()._stage_find(team_id=team_id, domain=domain, order=order, limit=limit)
        return cache[key]
