from datetime import timedelta
from unittest.mock import patch

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from odoo.addons.base.tests.common import new_test_user
from odoo.addons.salesjet_flows.models import crm_lead as salesjet_crm_lead

from .common import SalesjetCase


def _bare_write(self, vals):
    """crm.lead's write without SalesJet's lead hook."""
    return super(salesjet_crm_lead.CrmLead, self).write(vals)


def _bare_create(self, vals_list):
    """crm.lead's create without SalesJet's lead hook."""
    return super(salesjet_crm_lead.CrmLead, self).create(vals_list)


@tagged("post_install", "-at_install")
class TestLeadTriggers(SalesjetCase):
    """A lead is created, reaches a stage, is assigned, won or lost: flows start for its contact, with the lead."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Stage = cls.env["crm.stage"]
        cls.stage_new = Stage.create({"name": "SJ New", "sequence": 1})
        cls.stage_qualified = Stage.create({"name": "SJ Qualified", "sequence": 2})
        cls.stage_proposal = Stage.create({"name": "SJ Proposal", "sequence": 3})
        cls.stage_won = Stage.create({"name": "SJ Won", "sequence": 90, "is_won": True})
        cls.team = cls.env["crm.team"].create({"name": "SJ Direct sales"})
        cls.team_b = cls.env["crm.team"].create({"name": "SJ Partners"})
        cls.seller_b = new_test_user(cls.env, login="sj_seller_b", groups="sales_team.group_sale_salesman")
        cls.env["crm.team.member"].create([{"crm_team_id": cls.team.id, "user_id": cls.user_sales.id},
                                           {"crm_team_id": cls.team_b.id, "user_id": cls.seller_b.id}])
        cls.reason = cls.env["crm.lost.reason"].create({"name": "SJ Too expensive"})
        cls.contact = cls.make_partners(1, prefix="SJ lead contact")

    def flow_on(self, trigger_type, **trigger):
        return self.make_flow([self.tag_step(self.tag_a)], triggers=[{"trigger_type": trigger_type, **trigger}],
                              reentry_policy="always")

    def lead(self, **vals):
        return self.env["crm.lead"].create({
            "name": "SJ deal", "partner_id": self.contact.id, "user_id": False, "team_id": self.team.id,
            "stage_id": self.stage_new.id, **vals})

    def events(self, kind):
        return self.Event.search([("kind", "=", kind)])

    def next_transaction(self, minutes=5):
        """What another transaction sees as its time: the moment lead events are stamped with."""
        self.env.cr._now = self.env.cr.now() + timedelta(minutes=minutes)

    # ---- lead created ----
    def test_lead_created_starts_the_flow_once_per_lead_with_its_lead(self):
        flow = self.flow_on("lead_created")
        leads = self.lead() | self.lead(name="SJ other deal")
        self.assertEqual(flow.enrollment_ids.lead_id, leads)
        self.assertEqual(set(flow.enrollment_ids.mapped("partner_id")), {self.contact})
        self.assertEqual(sorted(self.events("lead_created").mapped("external_id")),
                         sorted(f"lead_created:{lead.id}" for lead in leads))
        leads.write({"name": "SJ renamed", "expected_revenue": 500})
        leads[0].write({"stage_id": self.stage_qualified.id})
        self.assertEqual(len(flow.enrollment_ids), 2, "later changes are no new creation")

    def test_lead_created_respects_the_lead_filter_and_the_contact_filter(self):
        flow = self.flow_on("lead_created", lead_domain=f"[('team_id', '=', {self.team.id})]")
        self.lead(team_id=self.team_b.id)
        ours = self.lead()
        self.assertEqual(flow.enrollment_ids.lead_id, ours)
        other = self.make_partners(1, prefix="SJ filtered")
        flow.trigger_ids.partner_domain = f"[('id', '=', {other.id})]"
        self.lead()
        self.assertEqual(len(flow.enrollment_ids), 1, "the contact filter applies to lead events too")

    def test_invalid_lead_filter_or_stage_trigger_without_stage_is_refused(self):
        with self.assertRaises(ValidationError):
            self.flow_on("lead_created", lead_domain="[('no_such_field', '=', 1)]")
        with self.assertRaises(ValidationError):
            self.flow_on("lead_stage")

    # ---- lead reaches a stage ----
    def test_stage_trigger_fires_when_a_lead_reaches_a_chosen_stage_only(self):
        flow = self.flow_on("lead_stage", lead_stage_ids=[(6, 0, (self.stage_qualified | self.stage_won).ids)])
        lead = self.lead()
        self.assertFalse(flow.enrollment_ids, "created in another stage")
        lead.write({"stage_id": self.stage_proposal.id})
        self.assertFalse(flow.enrollment_ids)
        lead.write({"stage_id": self.stage_qualified.id})
        self.assertEqual(flow.enrollment_ids.lead_id, lead)
        lead.write({"stage_id": self.stage_qualified.id, "name": "SJ still qualified"})
        lead.write({"priority": "2"})
        self.assertEqual(len(flow.enrollment_ids), 1, "no new occurrence without a stage change")
        lead.write({"stage_id": self.stage_proposal.id})
        self.next_transaction()
        lead.write({"stage_id": self.stage_qualified.id})
        self.assertEqual(len(flow.enrollment_ids), 2, "reaching the stage again later is another occurrence")
        created = self.lead(stage_id=self.stage_qualified.id)
        self.assertEqual(flow.enrollment_ids.lead_id, lead | created, "a lead created in the stage reached it")

    def test_same_stage_change_posted_twice_in_a_transaction_is_one_event(self):
        flow = self.flow_on("lead_stage", lead_stage_ids=[(6, 0, self.stage_qualified.ids)])
        lead = self.lead()
        lead.write({"stage_id": self.stage_qualified.id})
        lead.write({"stage_id": self.stage_new.id})
        lead.write({"stage_id": self.stage_qualified.id})
        qualified = self.events("lead_stage").filtered(lambda e: e.data["stage_id"] == self.stage_qualified.id)
        self.assertEqual(len(qualified), 1)
        self.assertEqual(len(flow.enrollment_ids), 1)

    # ---- lead assigned ----
    def test_assigned_trigger_fires_when_the_salesperson_is_set_or_changed(self):
        flow = self.flow_on("lead_assigned")
        lead = self.lead()
        self.assertFalse(flow.enrollment_ids, "no salesperson yet")
        lead.write({"user_id": self.user_sales.id})
        self.assertEqual(flow.enrollment_ids.lead_id, lead)
        self.assertEqual(self.events("lead_assigned").data["user_id"], self.user_sales.id)
        lead.write({"user_id": self.user_sales.id, "description": "same salesperson"})
        lead.write({"user_id": False})
        self.assertEqual(len(flow.enrollment_ids), 1, "same salesperson or none: not an assignment")
        self.next_transaction()
        lead.write({"user_id": self.user_sales.id})
        self.assertEqual(len(flow.enrollment_ids), 2, "assigned again after being unassigned")
        self.lead(user_id=self.user_sales.id)
        self.assertEqual(len(flow.enrollment_ids), 3, "a lead created with a salesperson is assigned")

    def test_assigned_trigger_limited_to_a_team(self):
        flow = self.flow_on("lead_assigned", lead_team_id=self.team.id)
        ours, theirs = self.lead(), self.lead(team_id=self.team_b.id)
        ours.write({"user_id": self.user_sales.id})
        theirs.write({"user_id": self.seller_b.id})
        self.assertEqual(theirs.team_id, self.team_b)
        self.assertEqual(flow.enrollment_ids.lead_id, ours)

    # ---- won and lost ----
    def test_won_and_lost_triggers_fire_once_per_outcome(self):
        won_flow, lost_flow = self.flow_on("lead_won"), self.flow_on("lead_lost")
        winner, loser = self.lead(), self.lead(name="SJ lost deal", probability=40)
        winner.action_set_won()
        winner.write({"name": "SJ won deal"})
        loser.action_set_lost(lost_reason_id=self.reason.id)
        loser.write({"description": "archived"})
        self.assertEqual(won_flow.enrollment_ids.lead_id, winner)
        self.assertEqual(lost_flow.enrollment_ids.lead_id, loser)
        self.assertEqual(len(self.events("lead_won")), 1)
        self.assertEqual(len(self.events("lead_lost")), 1)
        # reopened and won again later: another occurrence
        winner.write({"stage_id": self.stage_new.id})
        self.next_transaction()
        winner.action_set_won()
        self.assertEqual(len(won_flow.enrollment_ids), 2)
        self.assertEqual(len(lost_flow.enrollment_ids), 1, "winning is not losing")

    # ---- lifecycle ----
    def test_draft_and_stopped_flows_ignore_lead_events(self):
        draft = self.flow_on("lead_created")
        draft.state = "draft"
        stopped = self.flow_on("lead_assigned")
        stopped.state = "stopped"
        self.lead(user_id=self.user_sales.id)
        self.assertFalse((draft | stopped).enrollment_ids)
        self.assertFalse(self.events("lead_created") | self.events("lead_assigned"),
                         "nobody listens: no event is even stored")

    # ---- the lead's contact ----
    def test_lead_without_contact_gets_one_found_or_created(self):
        flow = self.flow_on("lead_created")
        fresh = self.lead(partner_id=False, contact_name="Nora New", email_from="nora.new@example.com")
        self.assertEqual(fresh.partner_id.email, "nora.new@example.com", "the lead is linked to its new contact")
        known = self.lead(partner_id=False, contact_name="Known", email_from=self.contact.email.upper())
        self.assertEqual(known.partner_id, self.contact, "found by email")
        self.assertEqual({(e.partner_id, e.lead_id) for e in flow.enrollment_ids},
                         {(fresh.partner_id, fresh), (self.contact, known)})

    def test_lead_without_any_contact_detail_keeps_its_event_and_starts_nothing(self):
        flow = self.flow_on("lead_created")
        lead = self.lead(partner_id=False)
        event = self.events("lead_created")
        self.assertEqual((event.state, event.lead_id), ("done", lead))
        self.assertFalse(flow.enrollment_ids)

    def test_no_contact_is_created_for_a_lead_no_trigger_accepts(self):
        self.flow_on("lead_created", lead_domain=f"[('team_id', '=', {self.team_b.id})]")
        lead = self.lead(partner_id=False, contact_name="Nobody", email_from="nobody.listens@example.com")
        self.assertFalse(lead.partner_id)
        self.assertFalse(self.env["res.partner"].search([("email", "=", "nobody.listens@example.com")]))

    # ---- other sources keep the lead ----
    def test_api_event_with_a_lead_keeps_it_on_the_run(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        lead = self.lead()
        event = self.env["salesjet.event"].sudo().post("sj_test", lead=lead)
        self.assertEqual(event._get_partner(), self.contact)
        self.assertEqual((flow.enrollment_ids.partner_id, flow.enrollment_ids.lead_id), (self.contact, lead))

    # ---- cost ----
    def test_mass_changes_are_left_to_the_event_cron(self):
        flow = self.flow_on("lead_created")
        leads = self.env["crm.lead"].create([{"name": f"SJ import {i}", "partner_id": self.contact.id}
                                             for i in range(51)])
        events = self.events("lead_created")
        self.assertEqual(set(events.mapped("state")), {"new"})
        self.assertFalse(flow.enrollment_ids)
        self.Event._cron_process_events()
        self.assertEqual(flow.enrollment_ids.lead_id, leads)

    def test_no_listening_flow_costs_no_query_on_lead_create_and_write(self):
        """Measured against the same create and write with the lead hook removed."""
        self.flow_on("lead_created").state = "draft"  # a flow exists, none runs
        stages = [self.stage_qualified]
        hooked = self.lead() | self.lead()
        bare = self.lead() | self.lead()

        def cost(leads, stage, user):
            self.env.flush_all()
            before = self.env.cr.sql_log_count
            leads.write({"stage_id": stage.id, "user_id": user.id, "probability": 10})
            self.env.flush_all()
            created = self.env["crm.lead"].create({"name": "SJ measured", "partner_id": self.contact.id})
            self.env.flush_all()
            created.action_set_won()
            self.env.flush_all()
            return self.env.cr.sql_log_count - before

        cost(self.lead() | self.lead(), stages[0], self.user_sales)  # warm the caches (listeners, stages, users)
        with_hook = cost(hooked, stages[0], self.user_sales)
        cls = salesjet_crm_lead.CrmLead
        with patch.object(cls, "write", _bare_write), patch.object(cls, "create", _bare_create):
            without_hook = cost(bare, stages[0], self.user_sales)
        self.assertEqual(with_hook, without_hook)
        self.assertFalse(self.Event.search_count([("kind", "like", "lead_")]))
