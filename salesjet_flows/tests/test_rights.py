"""Rights that hold for every caller, tried as an attacker would: who may launch, which events a user may
post, company walls on every model, SQL writers that check access, and secrets kept out of snapshots,
exports and error texts."""
import json

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged
from odoo.tests.common import JsonRpcException

from .common import SalesjetCase
from .fake_http import FakeReceiver
from .sources_common import SalesjetHttpCase

USER_GROUPS = "base.group_user,salesjet_flows.group_salesjet_user"
MANAGER_GROUPS = "base.group_user,salesjet_flows.group_salesjet_manager"
BEARER = "Bearer s3cr3t-receiver-token-42"


class RightsCase(SalesjetCase):
    """A Flows user and a Flows administrator of company A; an administrator of company B and its records."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "SJ rights B"})
        cls.user = new_test_user(cls.env, "sj_rights_user", groups=USER_GROUPS)
        cls.admin_a = new_test_user(cls.env, "sj_rights_admin_a", groups=MANAGER_GROUPS)
        cls.admin_b = new_test_user(cls.env, "sj_rights_admin_b", groups=MANAGER_GROUPS,
                                    company_id=cls.company_b.id, company_ids=[(6, 0, cls.company_b.ids)])
        cls.city = "Rightsville"
        cls.flow = cls.make_flow([cls.tag_step(cls.tag_a)], triggers=[
            {"trigger_type": "segment", "partner_domain": f"[('city', '=', '{cls.city}')]"},
            {"trigger_type": "api", "event_code": "sj_rights"},
        ])
        cls.segment = cls.flow.trigger_ids.filtered(lambda t: t.trigger_type == "segment")
        cls.api_trigger = cls.flow.trigger_ids - cls.segment
        cls.in_segment = cls.make_partners(2, prefix="SJ rights in", city=cls.city)
        cls.outside = cls.make_partners(3, prefix="SJ rights out")

    def launch(self, user, trigger, flow=None):
        wizard = self.env["salesjet.flow.launch"].with_user(user).create(
            {"flow_id": (flow or self.flow).id, "trigger_id": trigger.id})
        return wizard.action_launch()

    def enrolled(self, flow=None):
        return (flow or self.flow).with_context(active_test=False).enrollment_ids.partner_id


class TestLaunchRights(RightsCase):

    def test_flows_user_cannot_launch_a_flow(self):
        with self.assertRaises(AccessError):
            self.launch(self.user, self.segment)
        wizard = self.env["salesjet.flow.launch"].create({"flow_id": self.flow.id, "trigger_id": self.segment.id})
        with self.assertRaises(AccessError):
            wizard.with_user(self.user).action_launch()
        self.assertFalse(self.enrolled())

    def test_administrator_launches_with_the_flows_own_segment_trigger_only(self):
        self.launch(self.admin_a, self.segment)
        self.assertEqual(self.enrolled(), self.in_segment)

    def test_administrator_cannot_launch_with_an_api_trigger_for_every_contact(self):
        with self.assertRaises(UserError):
            self.launch(self.admin_a, self.api_trigger)
        self.assertFalse(self.enrolled(), "an API trigger has no segment: nobody is enrolled")

    def test_administrator_cannot_launch_with_another_flows_trigger(self):
        other = self.make_flow([self.tag_step(self.tag_b)], triggers=[
            {"trigger_type": "segment", "partner_domain": "[('email', 'ilike', 'sj.rights.out')]"}])
        with self.assertRaises(UserError):
            self.launch(self.admin_a, other.trigger_ids)
        self.assertFalse(self.enrolled())
        self.assertFalse(self.enrolled(other))

    def test_administrator_of_company_b_cannot_launch_a_flow_of_company_a(self):
        with self.assertRaises(AccessError):
            self.launch(self.admin_b, self.segment)
        self.assertFalse(self.enrolled())


class TestCompanyWalls(RightsCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env_b = cls.env(context=dict(cls.env.context, allowed_company_ids=cls.company_b.ids))
        cls.flow_b = env_b["salesjet.flow"].create({"state": "running",
            "name": "Flow B", "company_id": cls.company_b.id})
        cls.step_b = env_b["salesjet.flow.step"].create({
            "flow_id": cls.flow_b.id, "action_type": "add_tag", "tag_ids": [(6, 0, cls.tag_a.ids)],
            "condition_ids": [(0, 0, {"condition_type": "tag", "tag_ids": [(6, 0, cls.tag_b.ids)]})]})
        cls.chain_b = env_b["salesjet.flow"].create({"state": "running", "name": "Chain B", "kind": "chain",
                                                     "company_id": cls.company_b.id})
        cls.message_b = env_b["salesjet.chain.message"].create({
            "flow_id": cls.chain_b.id, "channel": "email", "subject": "Hello", "body": "<p>Hi</p>",
            "button_ids": [(0, 0, {"label": "Shop", "kind": "link", "url": "https://shop-b.example.com"})]})
        cls.funnel_b = env_b["salesjet.funnel"].create({"name": "Funnel B", "company_id": cls.company_b.id,
                                                        "page_ids": [(0, 0, {"path": "/b-offer"})]})
        cls.form_b = env_b["salesjet.facebook.form"].create({
            "name": "Form B", "company_id": cls.company_b.id, "page_id": "801", "form_id": "802",
            "field_ids": [(0, 0, {"facebook_field": "email", "partner_field": "email"})]})
        cls.records_b = {
            "salesjet.flow.condition": cls.step_b.condition_ids,
            "salesjet.chain.button": cls.message_b.button_ids,
            "salesjet.chain.message": cls.message_b,
            "salesjet.funnel.page": cls.funnel_b.page_ids,
            "salesjet.facebook.form.field": cls.form_b.field_ids,
        }

    def test_company_b_records_carry_company_b(self):
        for model, records in self.records_b.items():
            with self.subTest(model=model):
                self.assertEqual(records.company_id, self.company_b)

    def test_company_a_administrator_cannot_read_or_write_company_b_configuration(self):
        writes = {
            "salesjet.flow.condition": {"negate": True},
            "salesjet.chain.button": {"url": "https://phishing.example.com"},
            "salesjet.chain.message": {"subject": "Hacked"},
            "salesjet.funnel.page": {"path": "/hacked"},
            "salesjet.facebook.form.field": {"partner_field": "comment"},
        }
        for model, records in self.records_b.items():
            as_admin_a = self.env[model].with_user(self.admin_a)
            with self.subTest(model=model):
                self.assertFalse(as_admin_a.search([("id", "in", records.ids)]))
                with self.assertRaises(AccessError):
                    records.with_user(self.admin_a).read(["display_name"])
                with self.assertRaises(AccessError):
                    records.with_user(self.admin_a).write(writes[model])
                with self.assertRaises(AccessError):
                    records.with_user(self.admin_a).unlink()
        self.assertEqual(self.message_b.button_ids.url, "https://shop-b.example.com")
        # and company B's own administrator still manages them
        self.message_b.button_ids.with_user(self.admin_b).write({"url": "https://shop-b.example.com/new"})
        self.assertEqual(self.message_b.button_ids.url, "https://shop-b.example.com/new")

    def test_a_step_or_trigger_cannot_point_at_another_companys_records(self):
        # an administrator of both companies, working in company A
        both = new_test_user(self.env, "sj_rights_both", groups=MANAGER_GROUPS,
                             company_ids=[(6, 0, (self.company_a | self.company_b).ids)])
        env = self.env(user=both, context=dict(self.env.context,
                                               allowed_company_ids=(self.company_a | self.company_b).ids))
        attempts = {
            "trigger on company B's funnel": lambda: env["salesjet.flow.trigger"].create({
                "flow_id": self.flow.id, "trigger_type": "page_visit", "funnel_id": self.funnel_b.id}),
            "trigger on company B's Facebook form": lambda: env["salesjet.flow.trigger"].create({
                "flow_id": self.flow.id, "trigger_type": "facebook_lead", "facebook_form_id": self.form_b.id}),
            "step starting company B's flow": lambda: env["salesjet.flow.step"].create({
                "flow_id": self.flow.id, "action_type": "flow_start", "target_flow_id": self.flow_b.id}),
            "condition on company B's funnel": lambda: env["salesjet.flow.condition"].create({
                "step_id": self.flow.step_ids[0].id, "condition_type": "in_funnel", "funnel_id": self.funnel_b.id}),
        }
        for label, attempt in attempts.items():
            with self.subTest(label), self.assertRaises(UserError, msg=label):
                attempt()


class TestEventKinds(RightsCase):

    def test_flows_user_posts_api_events_only(self):
        partner = self.outside[0]
        with self.assertRaises(AccessError):
            self.Event.with_user(self.user).post("purchase", partner.id, kind="email_open")
        self.assertFalse(self.Event.search([("partner_id", "=", partner.id)]))
        event = self.Event.with_user(self.user).post("sj_rights", partner.id)
        self.assertEqual((event.kind, event.partner_id), ("api", partner))
        self.assertEqual(self.enrolled(), partner, "the API trigger started the flow")

    def test_flows_administrator_cannot_forge_another_kind_by_create_or_write(self):
        Event = self.Event.with_user(self.admin_a)
        with self.assertRaises(AccessError):
            Event.create({"kind": "email_open", "partner_id": self.outside[0].id})
        event = Event.create({"kind": "api", "code": "sj_other", "partner_id": self.outside[0].id})
        with self.assertRaises(AccessError):
            event.write({"kind": "email_click"})
        self.assertEqual(event.kind, "api")


class TestSqlWritersCheckAccess(RightsCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.waiting_flow = cls.make_flow([cls.tag_step(cls.tag_a, timing="delay", delay_value=2, delay_unit="days")])
        cls.waiting_flow._enroll(cls.outside.ids)
        cls.waiting = cls.Job.search([("flow_id", "=", cls.waiting_flow.id)])

    def test_flows_user_cannot_reschedule_waiting_contacts(self):
        dates = self.waiting.mapped("scheduled_date")
        step = self.waiting_flow.step_ids.with_user(self.user)
        with self.assertRaises(AccessError):
            step.action_reschedule_waiting()
        self.waiting.invalidate_recordset()
        self.assertEqual(self.waiting.mapped("scheduled_date"), dates)

    def test_flows_user_cannot_stop_runs_end_a_test_or_retry_events(self):
        runs = self.waiting_flow.enrollment_ids
        with self.assertRaises(AccessError):
            runs.with_user(self.user).action_stop()
        with self.assertRaises(AccessError):
            self.waiting_flow.step_ids.with_user(self.user).action_end_split_test()
        event = self.Event.sudo().post("sj_rights", self.outside[0], process=False)
        with self.assertRaises(AccessError):
            event.with_user(self.user).action_retry()
        runs.invalidate_recordset()
        self.assertEqual(set(runs.mapped("state")), {"running"})
        self.assertEqual(event.state, "new")

    def test_company_b_administrator_cannot_reschedule_or_remove_company_a_steps(self):
        step = self.waiting_flow.step_ids
        with self.assertRaises(AccessError):
            step.with_user(self.admin_b).action_reschedule_waiting()
        wizard = self.env["salesjet.flow.step.remove"].create({"step_id": step.id, "mode": "cancel"})
        with self.assertRaises(AccessError):
            wizard.with_user(self.admin_b).action_confirm()
        self.assertEqual(set(self.waiting.mapped("state")), {"pending"})

    def test_administrator_reschedules_waiting_contacts(self):
        before = {job: job.scheduled_date for job in self.waiting}
        step = self.waiting_flow.step_ids.with_user(self.admin_a)
        step.write({"delay_value": 5})
        step.action_reschedule_waiting()
        self.waiting.invalidate_recordset()
        for job, date in before.items():
            self.assertGreater(job.scheduled_date, date, "three more days to wait")


class TestExternalIdPerCompany(RightsCase):

    def test_the_same_external_id_in_two_companies_is_two_events(self):
        partner_a = self.make_partners(1, prefix="SJ ext A", company_id=self.company_a.id)
        partner_b = self.make_partners(1, prefix="SJ ext B", company_id=self.company_b.id)
        Event = self.Event.sudo()
        event_a = Event.with_company(self.company_a).post("sj_rights", partner_a, external_id="order-1")
        event_b = Event.with_company(self.company_b).post("sj_rights", partner_b, external_id="order-1")
        self.assertNotEqual(event_a, event_b, "company B does not get company A's event back")
        self.assertEqual((event_a.company_id, event_b.company_id), (self.company_a, self.company_b))
        replay = Event.with_company(self.company_b).post("sj_rights", partner_b, external_id="order-1")
        self.assertEqual(replay, event_b, "a replay in the same company is the same event")
        self.assertEqual(Event.search_count([("external_id", "=", "order-1")]), 2)


class TestSecretsStaySecret(RightsCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("salesjet_flows.webhook_allow_private", "True")
        cls.receiver = FakeReceiver().start()
        cls.addClassCleanup(cls.receiver.stop)
        cls.hook_flow = cls.make_flow([{
            "action_type": "webhook", "webhook_url": f"{cls.receiver.url}/hook",
            "webhook_headers": f"Authorization: {BEARER}\nX-Api-Key: key-0123456789",
            "webhook_body": '{"id": {{ object.id }}}'}])

    def setUp(self):
        super().setUp()
        self.receiver.reset()

    def assertNoSecret(self, text):
        for secret in ("s3cr3t-receiver-token-42", "key-0123456789", self.hook_flow.webhook_secret):
            self.assertNotIn(secret, text)

    def test_version_snapshots_read_by_flows_users_hold_no_webhook_header_or_secret(self):
        self.hook_flow.step_ids.write({"webhook_timeout": 12})
        self.env.cr.flush()  # what a commit does: write the pending versions
        versions = self.env["salesjet.flow.version"].with_user(self.user).search([("flow_id", "=", self.hook_flow.id)])
        self.assertTrue(versions)
        for version in versions.read(["snapshot", "snapshot_text"]):
            self.assertNoSecret(json.dumps(version["snapshot"]))
            self.assertNoSecret(version["snapshot_text"])

    def test_an_export_holds_no_webhook_header_and_an_import_keeps_the_rest_of_the_step(self):
        Transfer = self.env["salesjet.flow.transfer"].with_user(self.admin_a)
        payload = Transfer.export_flows(self.hook_flow.with_user(self.admin_a))
        self.assertNoSecret(json.dumps(payload))
        # a hand-made file cannot bring headers in either
        payload["flows"][0]["step_ids"][0]["webhook_headers"] = "Authorization: Bearer smuggled-token"
        imported = self.env["salesjet.flow.transfer"].import_flows(payload)
        self.assertEqual(imported.step_ids.webhook_url, self.hook_flow.step_ids.webhook_url)
        self.assertFalse(imported.step_ids.webhook_headers)

    def test_a_receiver_echoing_the_request_leaves_no_token_in_the_job(self):
        self.receiver.responses.append((401, json.dumps({"error": "bad credentials", "got": BEARER})))
        self.hook_flow._enroll(self.outside[:1].ids)
        self.run_scheduler()
        self.assertEqual(self.receiver.requests[0]["headers"]["Authorization"], BEARER, "the receiver got it")
        job = self.jobs_of(self.hook_flow)
        self.assertEqual(job.state, "failed")
        self.assertIn("[redacted]", job.http_response)
        for field in ("error", "result", "http_response"):
            self.assertNoSecret(job.with_user(self.user).read([field])[0][field] or "")

    def test_a_successful_answer_echoing_the_headers_is_stored_redacted(self):
        self.receiver.responses.append((200, json.dumps({"headers": {"X-Api-Key": "key-0123456789"}})))
        self.hook_flow._enroll(self.outside[:1].ids)
        self.run_scheduler()
        job = self.jobs_of(self.hook_flow)
        self.assertEqual(job.state, "done")
        self.assertIn("[redacted]", job.http_response)
        self.assertNoSecret(job.http_response)


@tagged("post_install", "-at_install")
class TestRightsOverJsonRpc(SalesjetHttpCase, RightsCase):
    """The same attacks through /web/dataset/call_kw, as a browser session would send them."""

    def call_kw(self, model, method, args, kwargs=None):
        return self.make_jsonrpc_request(f"/web/dataset/call_kw/{model}/{method}", {
            "model": model, "method": method, "args": args, "kwargs": kwargs or {}})

    def test_flows_user_cannot_launch_over_json_rpc(self):
        self.authenticate("sj_rights_user", "sj_rights_user")
        with self.assertRaises(JsonRpcException) as caught:
            wizard_id = self.call_kw("salesjet.flow.launch", "create",
                                     [{"flow_id": self.flow.id, "trigger_id": self.api_trigger.id}])
            self.call_kw("salesjet.flow.launch", "action_launch", [[wizard_id]])
        self.assertEqual(caught.exception.args[0], "odoo.exceptions.AccessError")
        self.assertFalse(self.enrolled())

    def test_flows_user_posts_api_events_but_not_loyalty_or_email_events(self):
        self.authenticate("sj_rights_user", "sj_rights_user")
        partner = self.outside[0]
        before = self.Event.search_count([])
        for kind in ("email_open", "website_form", "facebook_lead"):
            with self.subTest(kind=kind), self.assertRaises(JsonRpcException) as caught:
                self.call_kw("salesjet.event", "post", ["purchase", partner.id], {"kind": kind})
            self.assertEqual(caught.exception.args[0], "odoo.exceptions.AccessError")
        self.assertEqual(self.Event.search_count([]), before, "nothing stored")
        self.call_kw("salesjet.event", "post", ["sj_rights", partner.id], {"kind": "api"})
        event = self.Event.search([("code", "=", "sj_rights"), ("partner_id", "=", partner.id)])
        self.assertEqual(event.kind, "api")
        self.assertEqual(event.create_uid, self.user)

    def test_flows_user_cannot_reschedule_over_json_rpc(self):
        flow = self.make_flow([self.tag_step(self.tag_a, timing="delay", delay_value=1, delay_unit="days")])
        flow._enroll(self.outside.ids)
        dates = self.jobs_of(flow).mapped("scheduled_date")
        self.authenticate("sj_rights_user", "sj_rights_user")
        with self.assertRaises(JsonRpcException) as caught:
            self.call_kw("salesjet.flow.step", "action_reschedule_waiting", [flow.step_ids.ids])
        self.assertEqual(caught.exception.args[0], "odoo.exceptions.AccessError")
        self.jobs_of(flow).invalidate_recordset()
        self.assertEqual(self.jobs_of(flow).mapped("scheduled_date"), dates)

    def test_company_a_administrator_cannot_rewrite_company_b_buttons_over_json_rpc(self):
        chain_b = self.env["salesjet.flow"].with_company(self.company_b).create(
            {"name": "Chain B", "kind": "chain", "company_id": self.company_b.id})
        message_b = self.env["salesjet.chain.message"].with_company(self.company_b).create({
            "flow_id": chain_b.id, "channel": "email", "subject": "Hello", "body": "<p>Hi</p>",
            "button_ids": [(0, 0, {"label": "Shop", "kind": "link", "url": "https://shop-b.example.com"})]})
        self.authenticate("sj_rights_admin_a", "sj_rights_admin_a")
        with self.assertRaises(JsonRpcException) as caught:
            self.call_kw("salesjet.chain.button", "write",
                         [message_b.button_ids.ids, {"url": "https://phishing.example.com"}])
        self.assertEqual(caught.exception.args[0], "odoo.exceptions.AccessError")
        message_b.button_ids.invalidate_recordset()
        self.assertEqual(message_b.button_ids.url, "https://shop-b.example.com")
