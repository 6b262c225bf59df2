from odoo import http
from odoo.exceptions import ValidationError
from odoo.tests import tagged, users

from .sources_common import SalesjetHttpCase


@tagged("post_install", "-at_install")
class TestFormData(SalesjetHttpCase):
    """A website form's fields become contact fields (mapping lines of the trigger) and run data
    that conditions read (condition type "event / form data")."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Fields = cls.env["ir.model.fields"]
        partner_model = cls.env["ir.model"]._get_id("res.partner")
        # as a user adds fields with Studio: custom x_ fields of the contact
        cls.x_age, cls.x_newsletter, cls.x_birthday, cls.x_budget = Fields.create([
            {"model_id": partner_model, "name": "x_age", "field_description": "Age", "ttype": "integer"},
            {"model_id": partner_model, "name": "x_newsletter", "field_description": "Newsletter",
             "ttype": "boolean"},
            {"model_id": partner_model, "name": "x_birthday", "field_description": "Birthday", "ttype": "date"},
            {"model_id": partner_model, "name": "x_budget", "field_description": "Budget", "ttype": "float"},
        ])

    def field(self, name):
        return self.env["ir.model.fields"]._get("res.partner", name)

    def submit(self, page="/contactus", **fields):
        values = {"contact_name": "Ada Lovelace", "email_from": "ada@example.com", "name": "Question",
                  "description": "Hello", "csrf_token": http.Request.csrf_token(self), **fields}
        response = self.url_open("/website/form/crm.lead", data=values,
                                 headers={"Referer": f"{self.base_url()}{page}"})
        self.assertEqual(response.status_code, 200, response.text)
        return self.env["crm.lead"].browse(response.json()["id"])

    def form_flow(self, steps, mappings, **trigger):
        return self.make_flow(steps, triggers=[{
            "trigger_type": "website_form", "page_path": "/contactus", **trigger,
            "form_mapping_ids": [(0, 0, {"form_field": form, "partner_field_id": self.field(name).id})
                                 for form, name in mappings],
        }])

    def test_seed_example_age_over_45_gets_the_sms_and_30_is_skipped(self):
        flow = self.form_flow([{
            "action_type": "sms",
            "sms_body": "Hello {{ object.name }}, at {{ event.get('age') }} our 45+ offer is yours.",
            "condition_ids": [(0, 0, {"condition_type": "event_data", "data_key": "age", "operator": ">",
                                      "value": "45"})],
        }], [("age", "x_age")])
        self.authenticate(None, None)
        senior = self.submit(contact_name="Senior", email_from="senior@example.com", phone="+32470111111",
                             age="50").partner_id
        junior = self.submit(contact_name="Junior", email_from="junior@example.com", phone="+32470222222",
                             age="30").partner_id
        self.assertEqual((senior.x_age, junior.x_age), (50, 30), "the form's age fills the custom contact field")
        self.run_scheduler()
        senior_job, junior_job = self.jobs_of(flow, senior), self.jobs_of(flow, junior)
        self.assertEqual(senior_job.state, "done")
        sms = self.env["sms.sms"].browse(senior_job.res_id)
        self.assertEqual((sms.number, sms.state), ("+32470111111", "outgoing"))
        self.assertEqual(sms.body, "Hello Senior, at 50 our 45+ offer is yours.")
        self.assertEqual(junior_job.state, "skipped")
        self.assertFalse(self.env["sms.sms"].search([("partner_id", "=", junior.id)]))

    def test_mapped_values_are_converted_and_a_bad_one_is_skipped_with_its_reason(self):
        self.form_flow([self.tag_step(self.tag_a)], [
            ("age", "x_age"), ("newsletter", "x_newsletter"), ("birthday", "x_birthday"), ("budget", "x_budget"),
            ("job", "function"), ("country", "country_id"), ("kind", "type"),
        ])
        self.authenticate(None, None)
        lead = self.submit(age="fifty", newsletter="yes", birthday="1976-05-04", budget="1250,50", job="CTO",
                           country="belgium", kind="Invoice Address", favourite_colour="green")
        partner = lead.partner_id
        self.assertTrue(partner)
        self.assertEqual(partner.x_age, 0, "a value that does not convert is not written")
        self.assertTrue(partner.x_newsletter)
        self.assertEqual(str(partner.x_birthday), "1976-05-04")
        self.assertEqual(partner.x_budget, 1250.5)
        self.assertEqual(partner.function, "CTO")
        self.assertEqual(partner.country_id, self.env.ref("base.be"), "a related record by its name")
        self.assertEqual(partner.type, "invoice", "a choice by its label")
        event = self.events("website_form")
        self.assertIn("age", event.form_skipped)
        self.assertIn("fifty", event.form_skipped)
        self.assertEqual(event.form_skipped.count("\n"), 0, "only the bad value is reported")
        self.assertEqual(event.data["fields"]["favourite_colour"], "green", "unmapped fields stay in the data")
        self.assertEqual(event.data["fields"]["age"], "fifty")

    def test_form_values_are_written_before_the_trigger_filter_and_first_step(self):
        # the trigger's contact filter already sees the mapped value
        flow = self.form_flow([self.tag_step(self.tag_a)], [("age", "x_age")],
                              partner_domain="[('x_age', '>', 45)]")
        self.authenticate(None, None)
        old = self.submit(email_from="old@example.com", age="60").partner_id
        young = self.submit(email_from="young@example.com", age="20").partner_id
        self.assertEqual(flow.enrollment_ids.partner_id, old)
        self.assertEqual(young.x_age, 20)

    def test_event_data_condition_operators_compare_numbers_as_numbers_and_text_as_text(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        partners = self.make_partners(5)
        data = [{"age": 50}, {"fields": {"age": "9", "city": "Gent"}}, {"age": "100", "city": "Brussels"},
                {"age": ""}, {}]
        for partner, values in zip(partners, data, strict=True):
            self.Event.post("sj_test", partner, data=values)
        step = flow.step_ids
        Condition = self.env["salesjet.flow.condition"]

        def matching(operator, value="", key="age"):
            line = Condition.new({"step_id": step.id, "condition_type": "event_data", "data_key": key,
                                  "operator": operator, "value": value})
            runs = flow.enrollment_ids
            return set(line.with_context(salesjet_enrollment_ids=runs.ids)._filter(partners).ids)

        p = partners.ids
        self.assertEqual(matching(">", "45"), {p[0], p[2]}, "100 > 45 as numbers, not as text")
        self.assertEqual(matching("<", "45"), {p[1]}, "a form field (under fields) is read too")
        self.assertEqual(matching("=", "50"), {p[0]})
        self.assertEqual(matching("!=", "50"), {p[1], p[2], p[3], p[4]}, "a missing value differs")
        self.assertEqual(matching("set"), {p[0], p[1], p[2]})
        self.assertEqual(matching("not_set"), {p[3], p[4]})
        self.assertEqual(matching("=", "gent", key="city"), {p[1]}, "text ignores case")
        self.assertEqual(matching("ilike", "russ", key="city"), {p[2]})
        # one query for the whole batch, whatever its size
        line = Condition.new({"step_id": step.id, "condition_type": "event_data", "data_key": "age",
                              "operator": ">", "value": "45"})
        self.env.invalidate_all()
        with self.assertQueryCount(1):
            line.with_context(salesjet_enrollment_ids=flow.enrollment_ids.ids)._filter(partners)

    @users("user_flows_admin")
    def test_mapping_refuses_fields_a_form_must_not_set(self):
        with self.assertRaisesRegex(ValidationError, "cannot be filled from a form"):
            self.form_flow([self.tag_step(self.tag_a)], [("company", "company_id")])
        with self.assertRaisesRegex(ValidationError, "cannot be filled from a form"):
            self.form_flow([self.tag_step(self.tag_a)], [("tags", "category_id")])

    def test_mappings_follow_the_company_rules(self):
        other = self.env["res.company"].create({"name": "SJ Other company"})
        flow = self.form_flow([self.tag_step(self.tag_a)], [("age", "x_age")])
        flow_other = self.make_flow([self.tag_step(self.tag_a)], company_id=other.id, triggers=[{
            "trigger_type": "website_form",
            "form_mapping_ids": [(0, 0, {"form_field": "age", "partner_field_id": self.x_age.id})]}])
        visible = self.env["salesjet.form.mapping"].with_user(self.user_flows_admin).search([])
        self.assertIn(flow.trigger_ids.form_mapping_ids, visible)
        self.assertNotIn(flow_other.trigger_ids.form_mapping_ids, visible)
        self.assertEqual(flow_other.trigger_ids.form_mapping_ids.company_id, other)

    @users("user_flows_admin")
    def test_test_run_decides_the_event_data_condition_on_its_simulated_data(self):
        flow = self.make_flow([{**self.tag_step(self.tag_a), "condition_ids": [(0, 0, {
            "condition_type": "event_data", "data_key": "age", "operator": ">", "value": "45"})]}])
        partner = self.make_partners(1)
        outcomes = []
        for data in ('{"fields": {"age": "50"}}', '{"age": 30}'):
            run = self.env["salesjet.flow.test.run"].create({"flow_id": flow.id, "partner_id": partner.id,
                                                              "data_text": data})
            run.action_run_to_end()
            outcomes.append(run.line_ids.outcome)
        self.assertEqual(outcomes, ["run", "skipped"])
