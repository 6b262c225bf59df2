import json

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from odoo.addons.base.tests.common import new_test_user

from .common import SalesjetCase


@tagged("post_install", "-at_install")
class TestLeadConditions(SalesjetCase):
    """Conditions on the run's lead: p1's lead and p2's lead differ in every field; p3's run has no lead."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Stage = cls.env["crm.stage"]
        cls.stage_new = Stage.create({"name": "SJ cond New", "sequence": 1})
        cls.stage_qualified = Stage.create({"name": "SJ cond Qualified", "sequence": 2})
        cls.team_a = cls.env["crm.team"].create({"name": "SJ cond team A"})
        cls.team_b = cls.env["crm.team"].create({"name": "SJ cond team B"})
        cls.seller_b = new_test_user(cls.env, login="sj_cond_seller", groups="sales_team.group_sale_salesman")
        cls.env["crm.team.member"].create([{"crm_team_id": cls.team_a.id, "user_id": cls.user_sales.id},
                                           {"crm_team_id": cls.team_b.id, "user_id": cls.seller_b.id}])
        cls.hot = cls.env["crm.tag"].create({"name": "SJ hot"})
        cls.cold = cls.env["crm.tag"].create({"name": "SJ cold"})
        cls.facebook = cls.env.ref("utm.utm_source_facebook")
        cls.newsletter = cls.env.ref("utm.utm_source_newsletter")
        cls.email = cls.env.ref("utm.utm_medium_email")
        cls.website = cls.env.ref("utm.utm_medium_website")
        cls.p1, cls.p2, cls.p3 = cls.partners = cls.make_partners(3, prefix="SJ lead cond")
        Lead = cls.env["crm.lead"]
        cls.lead1 = Lead.create({
            "name": "SJ big deal", "partner_id": cls.p1.id, "stage_id": cls.stage_qualified.id,
            "team_id": cls.team_a.id, "user_id": cls.user_sales.id, "expected_revenue": 5000, "probability": 30,
            "tag_ids": [(6, 0, cls.hot.ids)], "source_id": cls.facebook.id, "medium_id": cls.email.id})
        cls.lead2 = Lead.create({
            "name": "SJ small deal", "partner_id": cls.p2.id, "stage_id": cls.stage_new.id,
            "team_id": cls.team_b.id, "user_id": cls.seller_b.id, "expected_revenue": 100, "probability": 80,
            "tag_ids": [(6, 0, cls.cold.ids)], "source_id": cls.newsletter.id, "medium_id": cls.website.id})
        cls.flow = cls.make_flow([cls.tag_step(cls.tag_c)], reentry_policy="always")
        cls.runs = (cls.flow._enroll([cls.p1.id], lead=cls.lead1) | cls.flow._enroll([cls.p2.id], lead=cls.lead2)
                    | cls.flow._enroll([cls.p3.id]))
        cls.step = cls.flow.step_ids

    def lines(self, *vals_list):
        self.step.condition_ids.unlink()
        return self.env["salesjet.flow.condition"].create([{"step_id": self.step.id, **vals} for vals in vals_list])

    def meets(self, conditions):
        return conditions.with_context(salesjet_enrollment_ids=self.runs.ids)._filter(self.partners)

    def assertLeadLine(self, vals, expected):
        """``vals`` meets ``expected`` (p1 or p2); with "Not", the other lead; p3 (no lead) never."""
        conditions = self.lines(vals)
        self.assertEqual(self.meets(conditions), expected, conditions.name)
        conditions.negate = True
        self.assertEqual(self.meets(conditions), (self.p1 | self.p2) - expected, conditions.name)

    def test_stage_team_salesperson_and_tag(self):
        cases = [
            ({"condition_type": "lead_stage", "lead_stage_ids": [(6, 0, self.stage_qualified.ids)]}, self.p1),
            ({"condition_type": "lead_stage", "lead_stage_ids": [(6, 0, self.stage_new.ids)]}, self.p2),
            ({"condition_type": "lead_team", "lead_team_ids": [(6, 0, self.team_b.ids)]}, self.p2),
            ({"condition_type": "lead_user", "lead_user_ids": [(6, 0, self.user_sales.ids)]}, self.p1),
            ({"condition_type": "lead_tag", "lead_tag_ids": [(6, 0, self.hot.ids)]}, self.p1),
        ]
        for vals, expected in cases:
            with self.subTest(vals=vals):
                self.assertLeadLine(vals, expected)

    def test_expected_revenue_and_probability_compare_as_numbers(self):
        cases = [
            ("lead_revenue", ">", "1000", self.p1),
            ("lead_revenue", "<", "1000", self.p2),
            ("lead_revenue", "=", "100", self.p2),
            ("lead_revenue", "!=", "100", self.p1),
            ("lead_probability", ">", "50", self.p2),
            ("lead_probability", "=", "30", self.p1),
        ]
        for condition_type, operator, value, expected in cases:
            with self.subTest(condition_type=condition_type, operator=operator, value=value):
                self.assertLeadLine({"condition_type": condition_type, "operator": operator, "value": value},
                                    expected)

    def test_source_and_medium(self):
        self.assertLeadLine({"condition_type": "lead_utm", "lead_source_ids": [(6, 0, self.facebook.ids)]}, self.p1)
        self.assertLeadLine({"condition_type": "lead_utm", "lead_medium_ids": [(6, 0, self.website.ids)]}, self.p2)
        both = self.lines({"condition_type": "lead_utm", "lead_source_ids": [(6, 0, self.facebook.ids)],
                           "lead_medium_ids": [(6, 0, self.website.ids)]})
        self.assertFalse(self.meets(both), "source and medium must both hold")

    def test_run_without_lead_meets_no_lead_condition(self):
        for vals in ({"condition_type": "lead_stage", "lead_stage_ids": [(6, 0, self.stage_new.ids)]},
                     {"condition_type": "lead_probability", "operator": ">", "value": "-1"}):
            conditions = self.lines(vals)
            self.assertNotIn(self.p3, self.meets(conditions))
            conditions.negate = True
            self.assertNotIn(self.p3, self.meets(conditions))

    def test_test_run_has_no_lead_so_no_lead_condition_holds(self):
        conditions = self.lines({"condition_type": "lead_probability", "operator": ">", "value": "-1"})
        simulated = conditions.with_context(salesjet_event_data=json.dumps({self.p1.id: {}}))
        self.assertFalse(simulated._filter(self.partners))
        conditions.negate = True
        self.assertFalse(simulated._filter(self.partners))

    def test_lost_lead_is_still_the_runs_lead(self):
        self.lead1.action_set_lost()
        self.assertLeadLine({"condition_type": "lead_team", "lead_team_ids": [(6, 0, self.team_a.ids)]}, self.p1)

    def test_lead_conditions_filter_a_batch_in_one_query(self):
        conditions = self.lines(
            {"condition_type": "lead_stage", "lead_stage_ids": [(6, 0, self.stage_qualified.ids)]},
            {"condition_type": "lead_revenue", "operator": ">", "value": "10"},
        )
        self.env.flush_all()
        conditions.mapped("lead_stage_ids")
        with self.assertQueryCount(__system__=1):
            self.assertEqual(self.meets(conditions), self.p1)

    def test_step_runs_for_the_matching_lead_and_skips_runs_without_lead(self):
        self.lines({"condition_type": "lead_user", "lead_user_ids": [(6, 0, (self.user_sales | self.seller_b).ids)]},
                   {"condition_type": "lead_revenue", "operator": ">", "value": "1000"})
        self.run_scheduler()
        self.assertTags(self.p1, present=[self.tag_c])
        self.assertTags(self.p2, absent=[self.tag_c])
        self.assertTags(self.p3, absent=[self.tag_c])
        skipped = self.jobs_of(self.flow, self.p3)
        self.assertEqual(skipped.state, "skipped")

    def test_lead_lines_need_their_settings_and_read_as_text(self):
        for vals in ({"condition_type": "lead_stage"}, {"condition_type": "lead_team"},
                     {"condition_type": "lead_user"}, {"condition_type": "lead_tag"}, {"condition_type": "lead_utm"},
                     {"condition_type": "lead_revenue", "operator": ">", "value": "a lot"},
                     {"condition_type": "lead_probability", "operator": "ilike", "value": "5"}):
            with self.subTest(vals=vals), self.assertRaises(ValidationError):
                self.lines(vals)
        line = self.lines({"condition_type": "lead_stage", "lead_stage_ids": [(6, 0, self.stage_qualified.ids)]})
        self.assertIn("SJ cond Qualified", line.name)
        self.assertIn("SJ cond Qualified", line._describe())
