from datetime import timedelta

from odoo import Command, fields, http
from odoo.exceptions import ValidationError
from odoo.tests import tagged, users
from odoo.tests.common import new_test_user

from .common import SalesjetCase
from .sources_common import SalesjetHttpCase


class LeadStepCommon:
    """Salespeople in a team, stages, lead tags and a lost reason; runs that keep their lead."""

    @classmethod
    def setUpLeadData(cls):
        groups = "base.group_user,sales_team.group_sale_salesman"
        cls.sales_a, cls.sales_b, cls.sales_c, cls.sales_out = (
            new_test_user(cls.env, login=f"sj_seller_{key}", name=f"Seller {key.upper()}", groups=groups)
            for key in ("a", "b", "c", "out"))
        cls.team_leader = new_test_user(cls.env, login="sj_team_leader", name="Team Leader", groups=groups)
        cls.team = cls.env["crm.team"].create({
            "name": "SJ Round robin team", "user_id": cls.team_leader.id,
            "crm_team_member_ids": [
                Command.create({"user_id": cls.sales_a.id, "assignment_max": 30}),
                Command.create({"user_id": cls.sales_b.id, "assignment_max": 30}),
                Command.create({"user_id": cls.sales_c.id, "assignment_max": 60}),
                Command.create({"user_id": cls.sales_out.id, "assignment_max": 30, "assignment_optout": True}),
            ],
        })
        Stage = cls.env["crm.stage"]
        cls.stage_new = Stage.create({"name": "SJ New", "sequence": 1})
        cls.stage_qualified = Stage.create({"name": "SJ Qualified", "sequence": 2})
        cls.stage_won = Stage.create({"name": "SJ Won", "sequence": 3, "is_won": True})
        cls.lead_tag_hot, cls.lead_tag_cold = cls.env["crm.tag"].create([{"name": "SJ hot"}, {"name": "SJ cold"}])
        cls.lost_reason = cls.env["crm.lost.reason"].create({"name": "SJ too expensive"})
        cls.activity_call = cls.env.ref("mail.mail_activity_data_call")

    @classmethod
    def make_leads(cls, partners, **vals):
        return cls.env["crm.lead"].create([{"name": f"Lead of {partner.name}", "partner_id": partner.id,
                                            "stage_id": cls.stage_new.id, "type": "lead", "user_id": False,
                                            "team_id": False, **vals}
                                           for partner in partners])


@tagged("post_install", "-at_install")
class TestLeadSteps(SalesjetCase, LeadStepCommon):
    """Steps act on the run's lead; runs without a lead (or with an archived one) skip them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpLeadData()

    def run_lead_step(self, step, count=2, **lead_vals):
        """Run a one-step flow for ``count`` contacts with their own lead and one contact without a lead;
        return the leads and the job of the contact without one."""
        flow = self.make_flow([step])
        partners = self.make_partners(count + 1, prefix="SJ lead step")
        leads = self.make_leads(partners[:count], **lead_vals)
        for partner, lead in zip(partners, leads, strict=False):
            flow._enroll(partner.ids, lead=lead)
        flow._enroll(partners[-1].ids)
        self.run_scheduler()
        jobs = self.jobs_of(flow)
        without = jobs.filtered(lambda j: j.partner_id == partners[-1])
        self.assertEqual(without.state, "skipped", "a run without a lead skips a lead step")
        self.assertIn("no lead", without.result)
        self.assertEqual(set((jobs - without).mapped("state")), {"done"}, (jobs - without).mapped("error"))
        return leads, flow

    def test_assign_step_sets_the_salesperson(self):
        leads, _flow = self.run_lead_step({"action_type": "lead_assign", "lead_user_id": self.sales_b.id})
        self.assertEqual(leads.user_id, self.sales_b)

    def test_assigned_salesperson_follows_the_lead_without_an_email_per_lead(self):
        # with chatter tracking on, as in production
        self.env = self.env(context=dict(self.env.context, tracking_disable=False))
        self.Job = self.env["salesjet.flow.job"]
        leads, _flow = self.run_lead_step({"action_type": "lead_assign", "lead_user_id": self.sales_b.id})
        self.assertEqual(leads.user_id, self.sales_b)
        self.assertIn(self.sales_b.partner_id, leads[0].message_partner_ids)
        self.assertFalse(self.env["mail.message"].search([
            ("model", "=", "crm.lead"), ("res_id", "in", leads.ids), ("message_type", "=", "user_notification")]),
            "as Odoo's automatic assignment: no 'you have been assigned' email per lead")

    def test_team_round_robin_spreads_leads_across_members_by_capacity_and_remembers_the_turn(self):
        step = {"action_type": "lead_assign", "lead_assign_to": "team", "lead_team_id": self.team.id}
        leads, flow = self.run_lead_step(step, count=8)
        self.assertEqual(leads.team_id, self.team)
        counts = {user: len(leads.filtered(lambda lead, u=user: lead.user_id == u))
                  for user in (self.sales_a, self.sales_b, self.sales_c, self.sales_out)}
        # C has twice the capacity of A and B; the opted-out member gets nothing
        self.assertEqual(counts, {self.sales_a: 2, self.sales_b: 2, self.sales_c: 4, self.sales_out: 0})
        self.assertIn("Seller", self.jobs_of(flow)[0].result)
        # a second batch goes on from the members' loads: the turn is not restarted
        more, _flow = self.run_lead_step(step, count=4)
        total = leads | more
        self.assertEqual(
            [len(total.filtered(lambda lead, u=user: lead.user_id == u))
             for user in (self.sales_a, self.sales_b, self.sales_c)], [3, 3, 6])

    def test_round_robin_respects_the_members_assignment_domain(self):
        self.team.crm_team_member_ids.filtered(lambda m: m.user_id == self.sales_c).assignment_domain = \
            "[('priority', '=', '3')]"
        step = {"action_type": "lead_assign", "lead_assign_to": "team", "lead_team_id": self.team.id}
        leads, _flow = self.run_lead_step(step, count=4, priority="1")
        self.assertNotIn(self.sales_c, leads.user_id, "C receives only very high priority leads")
        self.assertEqual(leads.user_id, self.sales_a | self.sales_b)

    def test_team_without_available_member_sets_only_the_team(self):
        self.team.crm_team_member_ids.assignment_optout = True
        leads, flow = self.run_lead_step({"action_type": "lead_assign", "lead_assign_to": "team",
                                          "lead_team_id": self.team.id})
        self.assertEqual(leads.team_id, self.team)
        self.assertFalse(leads.user_id)
        self.assertIn("no member", self.jobs_of(flow)[0].result)

    def test_stage_step_moves_the_lead(self):
        leads, _flow = self.run_lead_step({"action_type": "lead_stage", "lead_stage_id": self.stage_qualified.id})
        self.assertEqual(leads.stage_id, self.stage_qualified)

    def test_lead_tag_steps_add_and_remove_tags(self):
        leads, _flow = self.run_lead_step({"action_type": "lead_tag_add",
                                           "lead_tag_ids": [Command.set((self.lead_tag_hot | self.lead_tag_cold).ids)]})
        self.assertEqual(leads[0].tag_ids, self.lead_tag_hot | self.lead_tag_cold)
        self.assertEqual(leads[1].tag_ids, self.lead_tag_hot | self.lead_tag_cold)
        leads, _flow = self.run_lead_step({"action_type": "lead_tag_remove",
                                           "lead_tag_ids": [Command.set(self.lead_tag_cold.ids)]},
                                          tag_ids=[Command.set((self.lead_tag_hot | self.lead_tag_cold).ids)])
        self.assertEqual(leads.tag_ids, self.lead_tag_hot)

    def test_lost_step_archives_the_lead_with_its_reason(self):
        leads, _flow = self.run_lead_step({"action_type": "lead_lost", "lead_lost_reason_id": self.lost_reason.id})
        self.assertEqual(leads.mapped("active"), [False, False])
        self.assertEqual(leads.lost_reason_id, self.lost_reason)
        self.assertEqual(leads.mapped("probability"), [0, 0])

    def test_won_step_moves_the_lead_to_the_won_stage(self):
        leads, _flow = self.run_lead_step({"action_type": "lead_won"})
        self.assertEqual(leads.stage_id, self.stage_won)
        self.assertEqual(leads.mapped("probability"), [100, 100])
        self.assertTrue(all(leads.mapped("date_closed")))

    def test_priority_step_sets_the_priority(self):
        leads, _flow = self.run_lead_step({"action_type": "lead_priority", "lead_priority": "3"})
        self.assertEqual(leads.mapped("priority"), ["3", "3"])

    def test_activity_step_plans_for_the_salesperson_else_the_team_leader_else_the_flow_responsible(self):
        step = {"action_type": "lead_activity", "lead_activity_type_id": self.activity_call.id,
                "lead_activity_summary": "Call them", "lead_activity_note": "Ask about the budget",
                "lead_activity_days": 3}
        leads, flow = self.run_lead_step(step, count=3)
        # the leads had no salesperson when created: set them up, then run again for each case
        self.assertEqual(leads.activity_ids.user_id, self.env.user, "no salesperson, no team: the flow's owner")
        owned, teamed, alone = self.make_leads(self.make_partners(3, prefix="SJ activity"))
        owned.user_id = self.sales_a
        teamed.write({"user_id": False, "team_id": self.team.id})
        alone.write({"user_id": False, "team_id": False})
        flow.user_id = self.sales_b
        for lead in owned | teamed | alone:
            flow._enroll(lead.partner_id.ids, lead=lead)
        self.run_scheduler()
        self.assertEqual(owned.activity_ids.user_id, self.sales_a)
        self.assertEqual(teamed.activity_ids.user_id, self.team_leader)
        self.assertEqual(alone.activity_ids.user_id, self.sales_b)
        activity = owned.activity_ids
        self.assertEqual(activity.activity_type_id, self.activity_call)
        self.assertEqual(activity.summary, "Call them")
        self.assertIn("Ask about the budget", str(activity.note))
        self.assertEqual(activity.date_deadline, fields.Date.context_today(activity) + timedelta(days=3))

    def test_convert_step_turns_leads_into_opportunities(self):
        leads, flow = self.run_lead_step({"action_type": "lead_convert"})
        self.assertEqual(leads.mapped("type"), ["opportunity", "opportunity"])
        self.assertTrue(all(leads.mapped("date_conversion")))
        self.assertIn("Converted", self.jobs_of(flow)[0].result)

    def test_archived_or_deleted_lead_skips_the_step(self):
        flow = self.make_flow([{"action_type": "lead_priority", "lead_priority": "2"}])
        archived_owner, deleted_owner = self.make_partners(2, prefix="SJ gone lead")
        archived, deleted = self.make_leads(archived_owner | deleted_owner)
        flow._enroll(archived_owner.ids, lead=archived)
        flow._enroll(deleted_owner.ids, lead=deleted)
        archived.action_set_lost()
        deleted.unlink()
        self.run_scheduler()
        self.assertEqual(self.jobs_of(flow, archived_owner).state, "skipped")
        self.assertIn("archived", self.jobs_of(flow, archived_owner).result)
        self.assertEqual(self.jobs_of(flow, deleted_owner).state, "skipped")
        self.assertIn("no lead", self.jobs_of(flow, deleted_owner).result)
        self.assertEqual(archived.priority, "0")

    def test_a_batch_of_lead_steps_costs_the_same_queries_for_20_and_200_leads(self):
        both_tags = (self.lead_tag_hot | self.lead_tag_cold).ids
        steps = [
            {"action_type": "lead_assign", "lead_user_id": self.sales_a.id},
            {"action_type": "lead_assign", "lead_assign_to": "team", "lead_team_id": self.team.id},
            {"action_type": "lead_stage", "lead_stage_id": self.stage_qualified.id},
            {"action_type": "lead_tag_add", "lead_tag_ids": [Command.set(both_tags)]},
            {"action_type": "lead_tag_remove", "lead_tag_ids": [Command.set(self.lead_tag_cold.ids)]},
            {"action_type": "lead_priority", "lead_priority": "2"},
            {"action_type": "lead_activity", "lead_activity_type_id": self.activity_call.id},
            {"action_type": "lead_convert"},
            {"action_type": "lead_won"},
            {"action_type": "lead_lost", "lead_lost_reason_id": self.lost_reason.id},
        ]
        counts = {}
        for size in (20, 200):
            flow = self.make_flow(steps)
            partners = self.make_partners(size, prefix=f"SJ batch {size}")
            leads = self.make_leads(partners)
            for partner, lead in zip(partners, leads, strict=True):
                flow._enroll(partner.ids, lead=lead)
            for _step in steps:
                step = self.Job.search([("flow_id", "=", flow.id), ("state", "=", "pending")], limit=1).step_id
                self.env.flush_all()
                self.env.invalidate_all()
                before = self.env.cr.sql_log_count
                done = self.Job._process_due_batch()
                queries = self.env.cr.sql_log_count - before
                self.assertEqual(done, size)
                counts.setdefault(step.action_type + ("_team" if step.lead_assign_to == "team" and
                                                      step.action_type == "lead_assign" else ""), {})[size] = queries
            self.assertEqual(set(self.jobs_of(flow).mapped("state")), {"done"}, self.jobs_of(flow).mapped("result"))
            self.assertEqual(set(leads.with_context(active_test=False).mapped("active")), {False})
        for action, by_size in counts.items():
            # measured (20 / 200 leads): assign 68/63, round robin 36/38, stage 25/27, tags 20/20, priority 17/18,
            # activity 41/44, convert 30/32, won 28/30, lost 41/42; a few queries of slack, never ~10x
            self.assertLessEqual(by_size[200], by_size[20] + 5, f"{action}: 10x the leads, more queries: {counts}")

    @users("user_flows_admin")
    def test_flows_admin_configures_lead_steps_and_previews_them(self):
        flow = self.env["salesjet.flow"].create({"name": "SJ lead steps"})
        Step = self.env["salesjet.flow.step"]
        steps = Step.create([
            {"flow_id": flow.id, "action_type": "lead_assign", "lead_assign_to": "team", "lead_team_id": self.team.id},
            {"flow_id": flow.id, "action_type": "lead_stage", "lead_stage_id": self.stage_qualified.id},
            {"flow_id": flow.id, "action_type": "lead_tag_add", "lead_tag_ids": [Command.set(self.lead_tag_hot.ids)]},
            {"flow_id": flow.id, "action_type": "lead_lost", "lead_lost_reason_id": self.lost_reason.id},
            {"flow_id": flow.id, "action_type": "lead_activity", "lead_activity_type_id": self.activity_call.id,
             "lead_activity_summary": "Call"},
        ])
        values = steps.web_read({"display_name": {}, "lead_tag_ids": {"fields": {"display_name": {}}},
                                 "lead_team_id": {"fields": {"display_name": {}}},
                                 "lead_stage_id": {"fields": {"display_name": {}}}})
        self.assertIn("SJ Round robin team", values[0]["display_name"])
        self.assertEqual(values[2]["lead_tag_ids"][0]["display_name"], "SJ hot")
        self.assertEqual(steps[0]._diagram_icon(), "fa-user-plus")
        partner = self.env["res.partner"].create({"name": "SJ previewed"})
        self.assertIn("SJ Qualified", str(steps[1]._preview(partner, {})))
        self.assertIn("SJ too expensive", str(steps[3]._preview(partner, {})))
        self.assertIn("Call", str(steps[4]._preview(partner, {})))

    def test_flows_user_reads_a_lead_step_with_its_tags_team_and_stage(self):
        flow = self.make_flow([
            {"action_type": "lead_tag_add", "lead_tag_ids": [Command.set(self.lead_tag_hot.ids)]},
            {"action_type": "lead_assign", "lead_assign_to": "team", "lead_team_id": self.team.id},
            {"action_type": "lead_lost", "lead_lost_reason_id": self.lost_reason.id},
        ])
        steps = flow.step_ids.with_user(self.user_flows)
        values = steps.web_read({"display_name": {}, "lead_tag_ids": {"fields": {"display_name": {}}},
                                 "lead_team_id": {"fields": {"display_name": {}}},
                                 "lead_lost_reason_id": {"fields": {"display_name": {}}}})
        self.assertEqual(values[0]["lead_tag_ids"][0]["display_name"], "SJ hot")
        self.assertEqual(values[1]["lead_team_id"]["display_name"], "SJ Round robin team")
        self.assertEqual(values[2]["lead_lost_reason_id"]["display_name"], "SJ too expensive")

    @users("user_flows_admin")
    def test_lead_steps_need_their_settings(self):
        flow = self.env["salesjet.flow"].create({"name": "SJ incomplete lead steps"})
        Step = self.env["salesjet.flow.step"]
        for values, message in (
            ({"action_type": "lead_assign"}, "choose the salesperson"),
            ({"action_type": "lead_assign", "lead_assign_to": "team"}, "choose the sales team"),
            ({"action_type": "lead_stage"}, "choose the stage"),
            ({"action_type": "lead_tag_remove"}, "choose the lead tags"),
            ({"action_type": "lead_activity"}, "choose the activity type"),
        ):
            with self.subTest(values=values), self.assertRaisesRegex(ValidationError, message):
                Step.create({"flow_id": flow.id, **values})


@tagged("post_install", "-at_install")
class TestLeadFromWebsiteForm(SalesjetHttpCase, LeadStepCommon):
    """A lead from the website form is assigned to a team member, moved to a stage and given an activity."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpLeadData()

    def test_website_lead_is_assigned_in_turn_moved_and_given_an_activity(self):
        flow = self.make_flow([
            {"action_type": "lead_assign", "lead_assign_to": "team", "lead_team_id": self.team.id},
            {"action_type": "lead_stage", "lead_stage_id": self.stage_qualified.id},
            {"action_type": "lead_activity", "lead_activity_type_id": self.activity_call.id,
             "lead_activity_summary": "Call back the website lead", "lead_activity_days": 1},
        ], triggers=[{"trigger_type": "website_form"}])
        self.authenticate(None, None)
        leads = self.env["crm.lead"]
        for name in ("Ada Lovelace", "Grace Hopper"):
            email = name.replace(" ", ".").lower() + "@example.com"
            response = self.url_open("/website/form/crm.lead", data={
                "contact_name": name, "email_from": email, "name": f"Question from {name}",
                "description": "Hello", "csrf_token": http.Request.csrf_token(self)})
            self.assertEqual(response.status_code, 200, response.text)
            leads |= self.env["crm.lead"].browse(response.json()["id"])
        self.assertEqual(flow.enrollment_ids.lead_id, leads, "each run keeps its lead")
        self.run_scheduler()
        self.assertEqual(leads.team_id, self.team)
        self.assertEqual(len(leads.user_id), 2, "two members, in turn")
        self.assertLessEqual(leads.user_id, self.sales_a | self.sales_b | self.sales_c)
        self.assertEqual(leads.stage_id, self.stage_qualified)
        for lead in leads:
            self.assertEqual(lead.activity_ids.user_id, lead.user_id, "the activity is the new salesperson's")
            self.assertEqual(lead.activity_ids.summary, "Call back the website lead")
        self.assertEqual(set(self.jobs_of(flow).mapped("state")), {"done"})
