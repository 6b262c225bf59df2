from datetime import timedelta

from odoo import fields
from odoo.tests import TransactionCase

from ..tools.demo_history import HISTORY_PARAM, generate


class TestDemoHistory(TransactionCase):
    """The demo database's past (``scripts/demo.sh``), made small here: the engine's own records give every
    step of the demo flows non-zero counts, dated over the past weeks."""

    def test_demo_history_gives_every_step_of_the_demo_flows_a_past(self):
        nurture = self.env.ref("salesjet_flows.flow_nurture_companies", raise_if_not_found=False)
        if not nurture:
            self.skipTest("the demo history needs the demo data")
        now = fields.Datetime.now()
        ran = generate(self.env, contacts=90, days=20, seed=7, tick_hours=12)
        self.assertTrue(ran)
        self.assertFalse(generate(self.env, contacts=90, days=20, seed=7), "made once per database")
        self.assertTrue(self.env["ir.config_parameter"].get_param(HISTORY_PARAM))
        Job = self.env["salesjet.flow.job"]
        ab_flow = self.env["salesjet.flow"].search([("name", "=", "Spring offer: subject line A/B test")])
        flows = (nurture | self.env.ref("salesjet_flows.flow_newsletter_signup")
                 | self.env.ref("salesjet_flows.flow_newsletter_welcome") | self.env.ref("salesjet_flows.chain_fish")
                 | ab_flow)
        self.assertEqual(len(flows), 5)
        # a bridge adds its own facts (the loyalty bridge: purchases at the pet shop)
        flows |= self.env.ref("salesjet_flows_loyalty.scenario_purchase", raise_if_not_found=False) \
            or self.env["salesjet.flow"]
        for flow in flows:
            for step in flow.step_ids.filtered("active"):
                ended = Job.search_count([("step_id", "=", step.id), ("state", "in", ("done", "skipped"))])
                self.assertGreater(ended, 0, f"step {step.display_name} of {flow.name} has a past")
        jobs = Job.search([("flow_id", "in", flows.ids), ("state", "=", "done")])
        self.assertLess(min(jobs.mapped("date_done")), now - timedelta(days=10), "the history spans weeks")
        self.assertLess(min(jobs.mapped("create_date")), now - timedelta(days=10), "created then, too")
        email_steps = flows.step_ids.filtered(lambda s: s.action_type == "email")
        self.assertGreater(sum(email_steps.mapped("stat_opened")), 0)
        self.assertGreater(sum(email_steps.mapped("stat_clicked")), 0)
        self.assertTrue(self.env["salesjet.chain.answer"].search_count([("flow_id", "=", self.env.ref(
            "salesjet_flows.chain_fish").id)]), "chain answers")
        self.assertTrue(ab_flow.enrollment_ids.filtered("converted"), "conversions")
        split = ab_flow.step_ids.filtered(lambda s: s.action_type == "split")
        self.assertTrue(split.split_winner_id, "a finished A/B test")
        held = Job.search([("step_id", "=", split.id), ("split_held", "=", True)])
        self.assertTrue(held)
        self.assertEqual(held.filtered(lambda j: j.state == "done").branch_id, split.split_winner_id,
                         "the held-back contacts went down the winner's branch")
