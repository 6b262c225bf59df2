import json
from datetime import timedelta

from odoo.exceptions import UserError
from odoo.tests import users

from .common import T0, SalesjetCase


class TestFlowTemplates(SalesjetCase):
    """A Flows administrator starts flows from templates."""

    @property
    def Template(self):
        return self.env["salesjet.flow.template"]

    @property
    def Transfer(self):
        return self.env["salesjet.flow.transfer"]

    @users("user_flows_admin")
    def test_every_available_template_creates_its_flow_and_opens_it(self):
        templates = self.Template.search([("available", "=", True)])
        self.assertIn(self.env.ref("salesjet_flows.flow_template_newsletter_welcome"), templates)
        for template in templates:
            before = self.env["salesjet.flow"].with_context(active_test=False).search([])
            action = template.action_use()
            flow = self.env["salesjet.flow"].with_context(active_test=False).search([]) - before
            self.assertEqual(len(flow), 1, template.name)
            self.assertEqual((action["res_model"], action["res_id"]), ("salesjet.flow", flow.id))
            self.assertTrue(flow.step_ids, template.name)
            self.assertEqual(template.step_count, len(flow.step_ids.filtered(lambda s: not s.chain_message_id))
                             or len(flow.chain_message_ids), template.name)

    @users("user_flows_admin")
    def test_newsletter_welcome_thanks_now_texts_after_a_day_and_shows_the_popular_product_after_3_days(self):
        flow = self.env.ref("salesjet_flows.flow_template_newsletter_welcome")._create_flows()
        self.assertEqual(flow.trigger_ids.mapped("trigger_type"), ["list_subscribe", "api"])
        self.assertEqual(flow.trigger_ids[1].event_code, "newsletter_signup")
        thanks, sms, popular = flow.step_ids
        self.assertEqual((thanks.action_type, thanks.timing), ("email", "immediate"))
        self.assertEqual((sms.action_type, sms.delay_value, sms.delay_unit), ("sms", 1, "days"))
        self.assertEqual((popular.action_type, popular.delay_value, popular.delay_from), ("email", 3, "start"))
        product = self.env["product.product"].sudo().create({"name": "SJ Bestseller", "sale_ok": True})
        partner = self.make_partners(1)
        self.env["salesjet.product.access"].create([{"partner_id": p.id, "product_id": product.id}
                                                    for p in self.make_partners(3, prefix="SJ buyer")])
        with self.patch_popular(product):
            run = self.env["salesjet.flow.test.run"].create({"flow_id": flow.id, "partner_id": partner.id})
            run.action_run_to_end()
        self.assertEqual(run.line_ids.mapped("date")[-1] - run.line_ids.mapped("date")[0], timedelta(days=3))
        self.assertIn("SJ Bestseller", run.line_ids[-1].preview_html)

    def patch_popular(self, product):
        return self.patch_method("salesjet_popular_products", lambda self, limit=3: product)

    def patch_method(self, name, func):
        from unittest.mock import patch
        return patch.object(type(self.env["res.partner"]), name, func)

    def test_popular_products_are_the_most_granted_recently_when_nothing_was_sold(self):
        hit, other = self.env["product.product"].create([{"name": "SJ Hit", "sale_ok": True},
                                                         {"name": "SJ Other", "sale_ok": True}])
        buyers = self.make_partners(3, prefix="SJ fan")
        Access = self.env["salesjet.product.access"]
        Access.create([{"partner_id": p.id, "product_id": hit.id} for p in buyers])
        Access.create({"partner_id": buyers[0].id, "product_id": other.id})
        if "sale.order.line" in self.env:
            # no sale in the period: only grants count
            self.env.cr.execute("UPDATE sale_order_line SET create_date = %s", [T0 - timedelta(days=400)])
            self.env["sale.order.line"].invalidate_model(["create_date"])
        popular = buyers[0].salesjet_popular_products(2)
        self.assertEqual(popular, hit | other)
        self.assertEqual(popular[0], hit, "the most granted first")
        self.assertEqual(len(buyers[0].salesjet_popular_products(5)), 5, "filled with newest saleable products")

    @users("user_flows_admin")
    def test_template_needing_a_missing_module_is_hidden_and_refused(self):
        template = self.Template.create({"name": "SJ needs more", "required_module": "sj_not_a_module",
                                         "payload": json.dumps({"format": "salesjet_flows", "version": 1,
                                                                "flows": [{"name": "X"}], "records": {}})})
        self.assertNotIn(template, self.Template.search([("available", "=", True)]))
        with self.assertRaisesRegex(UserError, "needs the module sj_not_a_module"):
            template.action_use()
        broken = self.Template.create({"name": "SJ broken", "payload": "{not json"})
        with self.assertRaisesRegex(UserError, "cannot be read"):
            broken.action_use()

    @users("user_flows_admin")
    def test_message_chain_round_trip_carries_messages_and_buttons_not_their_steps(self):
        chain = self.env.ref("salesjet_flows.flow_template_pet_shop_chain")._create_flows()
        self.assertEqual(len(chain.chain_message_ids), 3)
        self.assertEqual(len(chain.step_ids), 3, "each message generated its one step")
        payload = self.Transfer.export_flows(chain)
        exported = payload["flows"][0]
        self.assertEqual(exported["step_ids"], [], "generated steps are not exported")
        self.assertEqual([len(m["button_ids"]) for m in exported["chain_message_ids"]], [0, 2, 1])
        self.assertNotIn("message_id", exported["chain_message_ids"][1]["button_ids"][0])
        copy = self.Transfer.import_flows(json.dumps(payload))
        self.assertEqual(copy.kind, "chain")
        self.assertEqual(copy.chain_message_ids.mapped("subject"), chain.chain_message_ids.mapped("subject"))
        self.assertEqual(copy.chain_message_ids.mapped("delay_value"), [0, 3, 2])
        self.assertEqual(len(copy.step_ids), 3, "the imported messages generate their steps, once")
        self.assertEqual(copy.step_ids.chain_message_id, copy.chain_message_ids)
        old_buttons, new_buttons = chain.chain_message_ids.button_ids, copy.chain_message_ids.button_ids
        self.assertEqual(new_buttons.mapped("label"), old_buttons.mapped("label"))
        self.assertEqual(new_buttons.mapped("kind"), ["link", "segment", "reply"])
        self.assertEqual(new_buttons[1].tag_id, old_buttons[1].tag_id, "the tag of this database is reused")
        self.assertEqual(copy.trigger_ids.landing_page, "/aquarium")

    @users("user_flows_admin")
    def test_demo_flows_come_from_the_templates(self):
        if not self.env.ref("base.module_salesjet_flows").demo:
            self.skipTest("installed without demo data")
        welcome = self.env.ref("salesjet_flows.flow_newsletter_welcome")
        self.assertFalse(welcome.active, "a ready-made demo flow is archived until someone restores it")
        self.assertEqual(welcome.user_id, self.env.ref("base.user_admin"))
        self.assertEqual(len(welcome.step_ids), 3)
        chain = self.env.ref("salesjet_flows.chain_fish")
        self.assertEqual((chain.kind, len(chain.chain_message_ids)), ("chain", 3))
