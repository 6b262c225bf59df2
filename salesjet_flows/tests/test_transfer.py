import base64
import json

from odoo.exceptions import UserError
from odoo.tests import users

from .common import SalesjetCase


class TestFlowTransfer(SalesjetCase):
    """Export a flow as JSON and import it again, here or as if into another database.

    A Flows administrator (not a Settings administrator) exports and imports: the fixtures are superuser's,
    the transfer is theirs (``self.Transfer`` and ``self.flow`` follow ``self.env``).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shared_template = cls.env["mail.template"].create({
            "name": "SJ shared welcome", "model_id": cls.env["ir.model"]._get_id("res.partner"),
            "subject": "Welcome {{ object.name }}", "body_html": "<p>Shared body</p>",
        })
        cls.vip = cls.env["res.partner.category"].create({"name": "SJ transfer VIP", "color": 4})
        cls.email_field = cls.env["ir.model.fields"]._get("res.partner", "email")
        cls._flow = cls.make_flow([
            cls.tag_step(cls.vip, name="Mark VIP"),
            {"action_type": "email", "email_source": "custom", "email_subject": "Hi {{ object.name ||| friend }}",
             "email_body": "<p>Our offer</p>", "timing": "delay", "delay_value": 2, "delay_unit": "days"},
            {"action_type": "email", "email_source": "template", "mail_template_id": cls.shared_template.id,
             "repeat": True, "repeat_interval": 3, "repeat_unit": "days", "repeat_max": 2},
            cls.tag_step(cls.vip, action="remove_tag", on_condition_fail="stop"),
        ], triggers=[{"trigger_type": "api", "event_code": "sj_transfer"},
                     {"trigger_type": "segment", "partner_domain": "[('email', '!=', False)]"}],
            name="SJ transfer flow", reentry_policy="no_active", kind="page")
        custom_email, template_email, last = cls._flow.step_ids[1:]
        cls.env["salesjet.flow.condition"].create([
            {"step_id": template_email.id, "condition_type": "email_opened", "negate": True,
             "mail_step_id": custom_email.id},
            {"step_id": last.id, "condition_type": "attribute", "field_id": cls.email_field.id,
             "operator": "ilike", "value": "@example.com"},
            {"step_id": last.id, "condition_type": "tag", "tag_ids": [(6, 0, cls.vip.ids)], "negate": True},
        ])

    @property
    def Transfer(self):
        return self.env["salesjet.flow.transfer"]

    def round_trip(self, flows=None):
        payload = json.dumps(self.Transfer.export_flows(flows or self.flow))
        return self.Transfer.import_flows(payload)

    @property
    def flow(self):
        return self._flow.with_env(self.env)

    @users("user_flows_admin")
    def test_export_then_import_rebuilds_the_same_flow(self):
        copy = self.round_trip()
        self.assertNotEqual(copy, self.flow)
        self.assertEqual((copy.name, copy.kind, copy.reentry_policy), ("SJ transfer flow", "page", "no_active"))
        self.assertEqual(copy.trigger_ids.mapped("trigger_type"), ["api", "segment"])
        self.assertEqual(copy.trigger_ids[0].event_code, "sj_transfer")
        self.assertEqual(copy.trigger_ids[1].partner_domain, "[('email', '!=', False)]")
        old, new = self.flow.step_ids, copy.step_ids
        self.assertEqual(new.mapped("action_type"), old.mapped("action_type"))
        self.assertEqual(new.mapped("sequence"), old.mapped("sequence"))
        self.assertEqual(new[0].tag_ids, self.vip, "tags of this database are reused")
        self.assertEqual((new[1].timing, new[1].delay_value, new[1].delay_unit), ("delay", 2, "days"))
        self.assertEqual(new[1].email_subject, "Hi {{ object.name ||| friend }}")
        self.assertEqual(new[1].mail_template_id.salesjet_step_id, new[1],
                         "a written email gets its own template, not the exported step's")
        self.assertEqual(new[2].mail_template_id, self.shared_template)
        self.assertEqual((new[2].repeat, new[2].repeat_interval, new[2].repeat_max), (True, 3, 2))
        self.assertEqual(new[3].on_condition_fail, "stop")
        opened = new[2].condition_ids
        self.assertEqual(opened.mail_step_id, new[1], "a condition on the flow's own email follows the copy")
        self.assertTrue(opened.negate)
        attribute, tag = new[3].condition_ids
        self.assertEqual((attribute.field_id, attribute.operator, attribute.value),
                         (self.email_field, "ilike", "@example.com"))
        self.assertEqual(tag.tag_ids, self.vip)
        self.assertIn("Imported", copy.message_ids[0].body)

    @users("user_flows_admin")
    def test_import_into_a_database_without_its_tags_and_templates_recreates_them(self):
        payload = json.dumps(self.Transfer.export_flows(self.flow))
        # as in another database: neither the tag nor the shared template exist
        self.flow.unlink()
        self.vip.unlink()
        self.shared_template.unlink()
        copy = self.Transfer.import_flows(payload)
        tag = copy.step_ids[0].tag_ids
        self.assertEqual((tag.name, tag.color), ("SJ transfer VIP", 4))
        template = copy.step_ids[2].mail_template_id
        self.assertEqual((template.name, template.subject, template.model), (
            "SJ shared welcome", "Welcome {{ object.name }}", "res.partner"))
        self.assertEqual(copy.step_ids[3].condition_ids[1].tag_ids, tag)
        again = self.Transfer.import_flows(payload)
        self.assertEqual(again.step_ids[0].tag_ids, tag, "a second import reuses what the first created")
        self.assertEqual(again.step_ids[2].mail_template_id, template)

    @users("user_flows_admin")
    def test_two_flows_exported_together_keep_their_follow_up_link(self):
        follow_up = self.make_flow([self.tag_step(self.vip)], name="SJ follow-up")
        main = self.make_flow([{"action_type": "flow_start", "target_flow_id": follow_up.id}], name="SJ main")
        new_main, new_follow_up = self.round_trip(main | follow_up).sorted(lambda f: f.name != "SJ main")
        self.assertEqual(new_main.step_ids.target_flow_id, new_follow_up)

    @users("user_flows_admin")
    def test_missing_reference_is_named_and_nothing_is_created(self):
        payload = self.Transfer.export_flows(self.flow)
        payload["flows"][0]["step_ids"][0]["tag_ids"] = [
            {"$ref": "__export__.gone_1", "model": "res.partner.category", "name": "Gone tag"}]
        flows_before = self.env["salesjet.flow"].with_context(active_test=False).search_count([])
        with self.assertRaisesRegex(UserError, "Gone tag"):
            self.Transfer.import_flows(json.dumps(payload))
        self.assertEqual(self.env["salesjet.flow"].with_context(active_test=False).search_count([]), flows_before)

    @users("user_flows_admin")
    def test_step_type_of_a_module_not_installed_here_is_refused(self):
        payload = self.Transfer.export_flows(self.flow)
        payload["flows"][0]["step_ids"][0]["action_type"] = "teleport"
        with self.assertRaisesRegex(UserError, "teleport"):
            self.Transfer.import_flows(payload)

    @users("user_flows_admin")
    def test_malformed_files_are_refused_with_a_sentence(self):
        for payload, message in (
            ("{not json", "not valid JSON"),
            (json.dumps({"format": "other", "flows": []}), "not a SalesJet Flows export"),
            (json.dumps({"format": "salesjet_flows", "version": 99, "flows": []}), "version 99"),
            (json.dumps({"format": "salesjet_flows", "version": 1, "flows": [1]}), "damaged"),
            (json.dumps({"format": "salesjet_flows", "version": 1, "flows": [{"name": "x", "step_ids": [
                {"action_type": "add_tag", "tag_ids": ["oops"]}]}]}), "damaged"),
        ):
            with self.subTest(message=message), self.assertRaisesRegex(UserError, message):
                self.Transfer.import_flows(payload)

    @users("user_flows_admin")
    def test_export_action_and_import_wizard(self):
        action = self.flow.action_export_json()
        self.assertEqual(action["type"], "ir.actions.act_url")
        attachment = self.env["ir.attachment"].browse(int(action["url"].split("/")[3].split("?")[0]))
        self.assertEqual(json.loads(attachment.raw)["flows"][0]["name"], "SJ transfer flow")
        wizard = self.env["salesjet.flow.import"].create({"file": base64.b64encode(attachment.raw)})
        result = wizard.action_import()
        imported = self.env["salesjet.flow"].browse(result["res_id"])
        self.assertEqual(imported.step_ids.mapped("action_type"), self.flow.step_ids.mapped("action_type"))
        latin1 = self.env["salesjet.flow.import"].create({"file": base64.b64encode("café".encode("latin-1"))})
        with self.assertRaisesRegex(UserError, "UTF-8"):
            latin1.action_import()
