"""Access rights: who may change flows, who sees secrets, companies apart, portal and public kept out."""
import base64
import json

from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import SalesjetCase

# every model of the addon and its bridges a person could reach through the ORM or RPC
MODELS = [
    "salesjet.flow", "salesjet.flow.trigger", "salesjet.flow.step", "salesjet.flow.condition",
    "salesjet.flow.enrollment", "salesjet.flow.job", "salesjet.event", "salesjet.call.template",
    "salesjet.call.script.line", "salesjet.chain.message", "salesjet.chain.button", "salesjet.chain.answer",
    "salesjet.product.access", "salesjet.special.offer", "salesjet.funnel", "salesjet.funnel.page",
    "salesjet.download", "salesjet.facebook.form", "salesjet.facebook.form.field",
    "salesjet.flow.launch", "salesjet.flow.stop", "salesjet.step.test", "salesjet.flow.import", "salesjet.call.test",
    "salesjet.loyalty.accrual", "salesjet.loyalty.log", "salesjet.segment.launch",
]


class AccessCase(SalesjetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("salesjet_flows.webhook_allow_private", "True")
        cls.user = new_test_user(cls.env, "sj_acc_user", groups="base.group_user,salesjet_flows.group_salesjet_user")
        cls.manager = new_test_user(cls.env, "sj_acc_manager",
                                    groups="base.group_user,salesjet_flows.group_salesjet_manager")
        cls.portal = new_test_user(cls.env, "sj_acc_portal", groups="base.group_portal")
        cls.public = cls.env.ref("base.public_user")
        cls.flow = cls.make_flow([
            cls.tag_step(cls.tag_a),
            {"action_type": "webhook", "webhook_url": "http://127.0.0.1:9/hook",
             "webhook_headers": "Authorization: Bearer top-secret-header", "webhook_body": '{"id": {{ object.id }}}'},
        ])
        cls.flow._enroll(cls.make_partners(1, prefix="SJ access").ids)
        cls.fb_form = cls.env["salesjet.facebook.form"].create({
            "name": "SJ access form", "page_id": "501", "form_id": "502", "access_token": "fb-page-token"})
        cls.env["ir.config_parameter"].sudo().set_param("salesjet_flows.twilio_auth_token", "twilio-token")


class TestAccess(AccessCase):

    def test_flows_user_cannot_create_or_change_flows_steps_triggers_conditions_or_settings(self):
        env = self.env(user=self.user)
        flow = self.flow.with_env(env)
        attempts = {
            "create a flow": lambda: env["salesjet.flow"].create({"name": "Mine"}),
            "rename a flow": lambda: flow.write({"name": "Hacked"}),
            "archive a flow": lambda: flow.action_archive(),
            "add a step": lambda: env["salesjet.flow.step"].create(
                {"flow_id": flow.id, "action_type": "add_tag", "tag_ids": [(6, 0, self.tag_b.ids)]}),
            "change a step": lambda: flow.step_ids[0].write({"tag_ids": [(6, 0, self.tag_b.ids)]}),
            "delete a step": lambda: flow.step_ids[0].unlink(),
            "change a trigger": lambda: flow.trigger_ids.write({"event_code": "other"}),
            "add a condition": lambda: env["salesjet.flow.condition"].create(
                {"step_id": flow.step_ids[0].id, "condition_type": "tag", "tag_ids": [(6, 0, self.tag_b.ids)]}),
            "add a chain message": lambda: env["salesjet.chain.message"].create(
                {"flow_id": flow.id, "channel": "email", "subject": "x", "body": "<p>x</p>"}),
            "create a call template": lambda: env["salesjet.call.template"].create({"name": "x"}),
            "open the settings": lambda: env["res.config.settings"].create({"salesjet_call_provider": "twilio"}),
            "set a parameter": lambda: env["ir.config_parameter"].set_param("salesjet_flows.job_batch_size", 1),
            "retry or cancel jobs": lambda: env["salesjet.flow.job"].search([("flow_id", "=", flow.id)]).write(
                {"state": "cancelled"}),
            "stop runs": lambda: flow.enrollment_ids.write({"state": "stopped"}),
            "forge an event": lambda: env["salesjet.event"].create({"kind": "api", "code": "x"}),
        }
        for label, attempt in attempts.items():
            with self.subTest(label), self.assertRaises(AccessError, msg=label):
                attempt()

    def test_only_administrators_read_secrets(self):
        webhook_step = self.flow.step_ids.filtered(lambda s: s.action_type == "webhook")
        # Flows users: neither the signing secret nor the headers (they hold tokens)
        for field in ("webhook_secret", "webhook_headers"):
            record = self.flow if field == "webhook_secret" else webhook_step
            with self.subTest(field), self.assertRaises(AccessError):
                record.with_user(self.user).read([field])
            with self.subTest(f"search on {field}"), self.assertRaises(AccessError):
                record.with_user(self.user).search([(field, "ilike", "secret")])
        with self.assertRaises(AccessError):
            self.flow.with_user(self.user).action_export_json()
        # Flows administrators configure webhooks: they see both
        self.assertTrue(self.flow.with_user(self.manager).webhook_secret)
        self.assertIn("top-secret-header", webhook_step.with_user(self.manager).webhook_headers)
        # the Facebook page token and the Twilio auth token: Settings administrators only
        for user in (self.user, self.manager):
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    self.fb_form.with_user(user).read(["access_token"])
                with self.assertRaises(AccessError):
                    self.env["ir.config_parameter"].with_user(user).get_param("salesjet_flows.twilio_auth_token")
                with self.assertRaises(AccessError):
                    self.env["res.config.settings"].with_user(user).default_get(["salesjet_twilio_auth_token"])
        self.assertEqual(self.fb_form.access_token, "fb-page-token")

    def test_export_by_an_administrator_leaves_out_the_signing_secret(self):
        payload = json.dumps(self.env["salesjet.flow.transfer"].with_user(self.manager).export_flows(
            self.flow.with_user(self.manager)))
        self.assertNotIn(self.flow.webhook_secret, payload)

    def test_a_user_of_company_a_never_sees_company_b_records(self):
        company_b = self.env["res.company"].create({"name": "SJ access B"})
        flow_b = self.make_flow([self.tag_step(self.tag_a)], company_id=company_b.id,
                                triggers=[{"trigger_type": "api", "event_code": "sj_b"}])
        partner = self.make_partners(1, prefix="SJ access B")
        self.Event.with_company(company_b).post("sj_b", partner)
        event_b = self.env["salesjet.event"].search([("code", "=", "sj_b")])
        self.assertEqual(event_b.company_id, company_b)
        jobs_b = self.env["salesjet.flow.job"].search([("flow_id", "=", flow_b.id)])
        self.assertTrue(flow_b.enrollment_ids and jobs_b)
        records_b = {
            "salesjet.flow": flow_b, "salesjet.flow.step": flow_b.step_ids,
            "salesjet.flow.trigger": flow_b.trigger_ids, "salesjet.flow.enrollment": flow_b.enrollment_ids,
            "salesjet.flow.job": jobs_b, "salesjet.event": event_b,
        }
        for user in (self.user, self.manager):
            for model, records in records_b.items():
                with self.subTest(user=user.login, model=model):
                    self.assertFalse(self.env[model].with_user(user).search([("id", "in", records.ids)]))
                    with self.assertRaises(AccessError):
                        records.with_user(user).read(["display_name"])

    def test_portal_and_public_users_reach_none_of_the_models(self):
        for user in (self.portal, self.public):
            for model in MODELS:
                if model not in self.env:
                    continue
                with self.subTest(user=user.login, model=model):
                    for operation in ("read", "write", "create", "unlink"):
                        self.assertFalse(self.env[model].with_user(user).has_access(operation),
                                         f"{user.login} may {operation} {model}")
                    with self.assertRaises(AccessError):
                        self.env[model].with_user(user).search([])


@tagged("post_install", "-at_install")
class TestRpcAccess(HttpCase, AccessCase):

    def call_kw(self, model, method, args, kwargs=None):
        response = self.url_open("/web/dataset/call_kw", data=json.dumps({
            "jsonrpc": "2.0", "method": "call", "id": 1,
            "params": {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        }), headers={"Content-Type": "application/json"})
        return response.json()

    def test_portal_json_rpc_is_refused_on_every_model(self):
        self.authenticate("sj_acc_portal", "sj_acc_portal")
        for model in ("salesjet.flow", "salesjet.flow.job", "salesjet.event", "salesjet.flow.enrollment",
                      "salesjet.facebook.form", "salesjet.chain.answer"):
            with self.subTest(model):
                answer = self.call_kw(model, "search_read", [[]], {"fields": ["display_name"]})
                self.assertNotIn("result", answer, answer)
                self.assertEqual(answer["error"]["data"]["name"], "odoo.exceptions.AccessError")
        partner = self.make_partners(1, prefix="SJ rpc victim")
        before = self.env["salesjet.event"].search_count([])
        answer = self.call_kw("salesjet.event", "post", ["sj_test", partner.id])
        self.assertNotIn("result", answer, "a portal user cannot post events")
        self.assertEqual(answer["error"]["data"]["name"], "odoo.exceptions.AccessError")
        self.assertEqual(self.env["salesjet.event"].search_count([]), before)
        self.assertFalse(self.flow.enrollment_ids.filtered(lambda e: e.partner_id == partner))
        answer = self.call_kw("salesjet.flow", "create", [{"name": "portal flow"}])
        self.assertNotIn("result", answer)
        self.assertFalse(self.env["salesjet.flow"].search([("name", "=", "portal flow")]))

    def test_public_json_rpc_is_refused(self):
        self.authenticate(None, None)
        answer = self.call_kw("salesjet.flow", "search_read", [[]], {"fields": ["name"]})
        self.assertNotIn("result", answer, answer)

    def test_tracked_file_content_is_not_reachable_through_web_content(self):
        download = self.env["salesjet.download"].create({
            "name": "SJ private", "file": base64.b64encode(b"private bytes"), "file_name": "p.txt"})
        self.authenticate("sj_acc_portal", "sj_acc_portal")
        response = self.url_open(f"/web/content/salesjet.download/{download.id}/file")
        self.assertNotIn(b"private bytes", response.content)
