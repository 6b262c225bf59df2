from odoo import api, fields, models

from .salesjet_event import LEAD_KINDS

# The lead events a change of these fields may raise (see ``_salesjet_lead_events``).
WATCHED_FIELDS = {
    "stage_id": ("lead_stage", "lead_won"),
    "active": ("lead_won", "lead_lost"),
    "probability": ("lead_lost",),
    "user_id": ("lead_assigned",),
}


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

    # ---- Lead triggers ----
    # A lead is created, reaches a stage, is assigned, won or lost: one event per occurrence, posted with
    # sudo through salesjet.event.post. Which kinds have a running flow listening is cached by the engine
    # (cleared with triggers and flows): without one, create and write cost nothing more.
    @api.model
    def _salesjet_listened_kinds(self, kinds):
        """The lead event kinds of ``kinds`` some running flow (of any company) listens to."""
        Trigger = self.env["salesjet.flow.trigger"]
        return {kind for kind in kinds if Trigger._listening_company_ids(kind)}

    def _salesjet_lead_states(self):
        """{lead id: (stage id, salesperson id, won, lost)}: what the lead triggers compare, read in one pass.

        Won and lost as Odoo's filters say: won is an active lead in a won stage, lost an archived lead
        with a zero probability."""
        return {
            lead.id: (lead.stage_id.id, lead.user_id.id, lead.active and lead.stage_id.is_won,
                      not lead.active and not lead.probability)
            for lead in self.sudo()
        }

    def _salesjet_lead_events(self, kinds, before=None):
        """Post the lead events of ``kinds`` these leads raised since ``before`` (``_salesjet_lead_states``
        taken before the write; None: just created).

        The external id makes each occurrence one event: the lead's id for its creation; the lead, the new
        value and the transaction's time for a change (the same change written twice in a transaction is
        posted once, the same stage reached again later is another event).
        """
        after = self._salesjet_lead_states()
        moment = self.env.cr.now().isoformat()
        items = []
        for lead in self.sudo():
            old = before[lead.id] if before is not None else (False, False, False, False)
            stage_id, user_id, won, lost = after[lead.id]
            base = {"lead_id": lead.id}
            if before is None and "lead_created" in kinds:
                items.append(("lead_created", lead, dict(base, stage_id=stage_id, user_id=user_id,
                                                        team_id=lead.team_id.id), f"lead_created:{lead.id}"))
            if "lead_stage" in kinds and stage_id and stage_id != old[0]:
                items.append(("lead_stage", lead, dict(base, stage_id=stage_id, previous_stage_id=old[0]),
                              f"lead_stage:{lead.id}:{stage_id}:{moment}"))
            if "lead_assigned" in kinds and user_id and user_id != old[1]:
                items.append(("lead_assigned", lead, dict(base, user_id=user_id, team_id=lead.team_id.id,
                                                          previous_user_id=old[1]),
                              f"lead_assigned:{lead.id}:{user_id}:{moment}"))
            if "lead_won" in kinds and won and not old[2]:
                items.append(("lead_won", lead, dict(base, stage_id=stage_id), f"lead_won:{lead.id}:{moment}"))
            if "lead_lost" in kinds and lost and not old[3]:
                items.append(("lead_lost", lead, dict(base, lost_reason_id=lead.lost_reason_id.id),
                              f"lead_lost:{lead.id}:{moment}"))
        if items:
            self.env["salesjet.event"]._post_lead_events(items)

    @api.model_create_multi
    def create(self, vals_list):
        leads = super().create(vals_list)
        kinds = self._salesjet_listened_kinds([key for key, _label in LEAD_KINDS])
        if kinds:
            leads._salesjet_lead_events(kinds)
        return leads

    def write(self, vals):
        watched = {kind for fname in vals.keys() & WATCHED_FIELDS.keys() for kind in WATCHED_FIELDS[fname]}
        kinds = self._salesjet_listened_kinds(watched) if self and watched else None
        if not kinds:
            return super().write(vals)
        before = self._salesjet_lead_states()
        res = super().write(vals)
        self._salesjet_lead_events(kinds, before)
        return res

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
