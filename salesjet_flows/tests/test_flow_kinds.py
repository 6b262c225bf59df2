from odoo.tests import Form, users

from .common import SalesjetCase


class TestFlowKinds(SalesjetCase):
    """A flow's kind decides what its trigger and condition forms offer first."""

    def new_trigger_type(self, kind):
        form = Form(self.env["salesjet.flow"])  # not saved: only what the form offers matters
        form.name = f"SJ {kind} flow"
        form.kind = kind
        with form.trigger_ids.new() as trigger:
            trigger_type = trigger.trigger_type
            if trigger_type == "api":
                trigger.event_code = "sj_test"
        return trigger_type

    @users("user_flows_admin")
    def test_a_new_trigger_starts_with_the_kinds_usual_type(self):
        expected = {"manual": "segment", "page": "page_visit", "funnel": "page_visit", "facebook": "facebook_lead",
                    "chain": "landing_signup"}
        for kind, trigger_type in expected.items():
            with self.subTest(kind=kind):
                self.assertEqual(self.new_trigger_type(kind), trigger_type)

    @users("user_flows_admin")
    def test_training_and_loyalty_flows_offer_their_bridges_triggers_first(self):
        types = dict(self.env["salesjet.flow.trigger"]._fields["trigger_type"]._description_selection(self.env))
        if "course_enrolled" in types:
            self.assertEqual(self.new_trigger_type("training"), "course_enrolled")
        else:
            self.assertEqual(self.new_trigger_type("training"), "api")
        if "loyalty_purchase" in types:
            self.assertEqual(self.new_trigger_type("loyalty"), "loyalty_purchase")

    @users("user_flows_admin")
    def test_a_new_condition_of_a_funnel_step_is_a_funnel_condition(self):
        funnel_flow = self.make_flow([{"action_type": "add_tag", "tag_ids": [(6, 0, self.tag_a.ids)]}],
                                     kind="funnel")
        page_flow = self.make_flow([{"action_type": "add_tag", "tag_ids": [(6, 0, self.tag_a.ids)]}], kind="page")
        for flow, condition_type in ((funnel_flow, "in_funnel"), (page_flow, "page_visited")):
            with self.subTest(kind=flow.kind), Form(flow.step_ids) as step:
                with step.condition_ids.new() as condition:
                    self.assertEqual(condition.condition_type, condition_type)
                    condition.condition_type = "tag"
                    condition.tag_ids.add(self.tag_b)

    @users("user_flows_admin")
    def test_the_triggers_tab_names_the_kinds_usual_triggers(self):
        flow = self.make_flow([], kind="facebook")
        self.assertIn("Facebook", flow.kind_hint)
        flow.kind = "manual"
        self.assertIn("Manual launch for a segment", flow.kind_hint)
