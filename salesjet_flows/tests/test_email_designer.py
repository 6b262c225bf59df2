import shutil

from odoo.exceptions import AccessError
from odoo.modules.migration import load_script
from odoo.tests import HttpCase, new_test_user, tagged, users

from odoo.addons.mail.tests.common import MockEmail

from .common import T0, SalesjetCase
from .test_tour import BROWSERS

# what Odoo's email designer writes: the design (classes, theme) and its inline-styled copy, with a placeholder
# inserted by the designer (<t t-out>), one typed by hand ({{ }}), a link and the themes' unsubscribe link
DESIGN = ('<div class="o_layout o_basic_theme"><div class="container o_mail_wrapper"><div class="row">'
          '<div class="col o_mail_wrapper_td"><h1>Welcome <t t-out="object.name">friend</t></h1>'
          "<p>Your plan: {{ event.get('plan') ||| basic }}</p>"
          '<a href="https://shop.example.com/offer" class="btn btn-primary">Offer</a>'
          '<a href="/unsubscribe_from_list">Unsubscribe</a></div></div></div></div>')
INLINE = ('<div class="o_layout o_basic_theme" style="padding: 0px; margin: 0px;">'
          '<h1 style="font-size: 28px; color: #212529;">Welcome <t t-out="object.name">friend</t></h1>'
          "<p style=\"margin: 0px 0 16px 0;\">Your plan: {{ event.get('plan') ||| basic }}</p>"
          '<a href="https://shop.example.com/offer" style="background-color: #714B67; color: #FFFFFF;">Offer</a>'
          '<a href="/unsubscribe_from_list" style="color: #714B67;">Unsubscribe</a></div>')


class TestEmailDesigner(SalesjetCase, MockEmail):
    """An email step's body designed in Odoo's email designer (mass_mailing_html): the design is kept to edit,
    its inline copy is sent, with placeholders, tracked links and the unsubscribe link as before."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.email = "shop@example.com"

    def designed_step(self, **vals):
        return {"action_type": "email", "email_source": "custom", "email_subject": "Hello {{ object.name }}",
                "email_body_arch": DESIGN, "email_body": INLINE, **vals}

    @users("user_flows_admin")
    def test_designed_email_renders_and_sends_with_placeholders_and_tracked_links(self):
        flow = self.make_flow([self.designed_step()])
        step = flow.step_ids
        self.assertIn("o_mail_wrapper_td", str(step.email_body_arch), "the design is kept for the designer")
        self.assertIn("font-size: 28px", str(step.mail_template_id.body_html),
                      "the inline copy is the template that is sent")
        alice, bob = self.make_partners(2)
        with self.at(T0):
            self.Event.post("sj_test", alice, data={"plan": "gold"})
            self.Event.post("sj_test", bob)
            self.env(su=True)["salesjet.flow.job"]._process_due_batch()
        for partner, plan in ((alice, "gold"), (bob, "basic")):
            job = self.jobs_of(flow, partner).sudo()
            self.assertEqual(job.state, "done", job.result)
            mail = self.env["mail.mail"].sudo().browse(job.res_id)
            body = str(mail.body_html)
            self.assertIn(f"Welcome {partner.name}</h1>", body)
            self.assertIn(f"Your plan: {plan}", body)
            self.assertIn('style="font-size: 28px; color: #212529;"', body, "the inline styles are sent")
            self.assertNotIn("https://shop.example.com/offer", body, "the link is shortened...")
            self.assertIn("/r/", body, "...on a tracker of the step's mailing")
            self.assertEqual(job.mailing_trace_id.mass_mailing_id, step.mailing_id)
            with self.mock_mail_gateway():
                mail.send()
            sent = self._mails[-1]["body"]
            unsubscribe = step.mailing_id.sudo()._get_unsubscribe_url(partner.email_normalized, partner.id)
            self.assertIn(unsubscribe, sent, "the theme's unsubscribe link becomes the contact's own")
            self.assertIn(f"/m/{job.mailing_trace_id.id}", sent, "clicks are counted on the contact's trace")

    def test_a_body_written_without_the_designer_becomes_its_design(self):
        step = self.make_flow([{"action_type": "email", "email_source": "custom", "email_subject": "Hi",
                                "email_body": "<p>Dear {{ object.name ||| friend }}</p>"}]).step_ids
        self.assertEqual(step.email_body_arch, step.email_body, "a step made by code opens on its body")
        step.email_body = "<p>Changed by the API</p>"
        self.assertEqual(str(step.email_body_arch), "<p>Changed by the API</p>")
        step.write({"email_body_arch": DESIGN, "email_body": INLINE})
        self.assertIn("o_mail_wrapper_td", str(step.email_body_arch), "the designer's own design stays")
        self.assertEqual(step.mailing_model_id.model, "res.partner", "the designer offers designs of contacts")

    def test_update_gives_existing_steps_their_body_as_design(self):
        step = self.make_flow([{"action_type": "email", "email_source": "custom", "email_subject": "Hi",
                                "email_body": "<p>Written in 1.1</p>"}]).step_ids
        self.env.flush_all()
        self.env.cr.execute("UPDATE salesjet_flow_step SET email_body_arch = NULL WHERE id = %s", [step.id])
        migration = load_script("salesjet_flows/migrations/18.0.1.2.0/post-email_designer.py", "sj_designer_mig")
        migration.migrate(self.env.cr, "18.0.1.1.0")
        step.invalidate_recordset(["email_body_arch"])
        self.assertEqual(str(step.email_body_arch), "<p>Written in 1.1</p>")

    def test_flows_administrators_may_use_the_designer_and_flows_users_only_read_it(self):
        admin = new_test_user(self.env, "sj_designer_admin", email="designer@example.com",
                              groups="base.group_user,salesjet_flows.group_salesjet_manager")
        self.assertTrue(admin.has_group("mass_mailing.group_mass_mailing_user"),
                        "a Flows administrator gets Email Marketing's rights the designer needs")
        env = self.env(user=admin)
        # what the designer loads: Email Marketing's saved designs and its themes
        env["mailing.mailing"].action_fetch_favorites([("mailing_model_id.model", "=", "res.partner")])
        themes = env["ir.ui.view"].render_public_asset("mass_mailing.email_designer_themes")
        self.assertTrue('data-name="empty"' in themes, "the designer's themes load")
        flow = env["salesjet.flow"].create({"name": "Designed"})
        # (the event's data needs Odoo's Mail Template Editor group: a field of the contact does not)
        step = env["salesjet.flow.step"].create({"flow_id": flow.id, **self.designed_step(
            email_body_arch=DESIGN.replace("{{ event.get('plan') ||| basic }}", "gold"),
            email_body=INLINE.replace("{{ event.get('plan') ||| basic }}", "gold"))})
        self.assertIn('<t t-out="object.name">friend</t>', str(step.mail_template_id.body_html))
        reader = self.env(user=self.user_flows)["salesjet.flow.step"].browse(step.id)
        self.assertIn("o_mail_wrapper_td", str(reader.email_body_arch))
        with self.assertRaises(AccessError):
            reader.write({"email_body_arch": "<p>mine</p>"})


class TestSmsComposer(SalesjetCase):
    """The SMS composer's live preview: the text being written, rendered for the chosen contact by the step's
    own preview, its links as they are sent."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.flow = cls.make_flow([{"action_type": "sms", "sms_body": "Hi"}])
        cls.contact = cls.make_partners(1, prefix="SJ composer", mobile="+32470123456")

    @users("user_flows_admin")
    def test_sms_preview_renders_the_unsaved_text_for_the_chosen_contact(self):
        step = self.env["salesjet.flow.step"].browse(self.flow.step_ids.id)
        result = step.sms_composer_preview("Hi {{ object.name }}, see https://shop.example.com/a?x=1",
                                           self.contact.id)
        self.assertFalse(result["error"])
        self.assertEqual(result["partner"], self.contact.name)
        self.assertTrue(result["text"].startswith(f"Hi {self.contact.name}, see "), result["text"])
        self.assertNotIn("shop.example.com", result["text"], "the link is shown as sent: tracked...")
        self.assertRegex(result["text"], rf"/r/\w+\?sj={self.contact.id}\.\w{{16}}$", "...and signed")
        self.assertEqual(step.sms_body, "Hi", "a preview saves nothing")
        new = self.env["salesjet.flow.step"].sms_composer_preview("Hi {{ object.name ||| you }}")
        self.assertEqual(new["text"], f"Hi {self.env.user.partner_id.name}", "a new step, your own contact")

    @users("user_flows_admin")
    def test_sms_preview_says_why_a_text_does_not_render(self):
        step = self.env["salesjet.flow.step"].browse(self.flow.step_ids.id)
        result = step.sms_composer_preview("Hi {{ object.env['res.users'].search([]) }}", self.contact.id)
        self.assertFalse(result["text"])
        self.assertIn("does not render", result["error"])

    @users("user_flows")
    def test_flows_users_preview_too(self):
        result = self.env["salesjet.flow.step"].browse(self.flow.step_ids.id).sms_composer_preview(
            "Hello {{ object.name }}", self.contact.id)
        self.assertEqual(result["text"], f"Hello {self.contact.name}")

    @users("user_portal")
    def test_portal_users_may_not_preview(self):
        with self.assertRaises(AccessError):
            self.env["salesjet.flow.step"].browse(self.flow.step_ids.id).sms_composer_preview(
                "Hi {{ object.name }}", self.contact.id)


@tagged("post_install", "-at_install")
class TestDesignerTours(HttpCase):

    def test_designer_loads_on_an_email_step_and_the_composer_counts_segments(self):
        if not any(shutil.which(name) for name in BROWSERS):
            self.fail("Chromium is not installed: install it (apt-get install chromium) to run the browser tests.")
        try:
            import websocket  # noqa: F401
        except ImportError:
            self.fail("websocket-client is not installed in this Python: pip install websocket-client.")
        flow = self.env["salesjet.flow"].create({"name": "Designer tour"})
        email, sms = self.env["salesjet.flow.step"].create([
            {"flow_id": flow.id, "sequence": 1, "action_type": "email", "email_source": "custom",
             "email_subject": "Welcome"},
            {"flow_id": flow.id, "sequence": 2, "action_type": "sms", "sms_body": "Hi",
             "preview_partner_id": self.env["res.partner"].create({"name": "Sarah Composer"}).id},
        ])
        self.start_tour(f"/odoo/salesjet.flow.step/{email.id}", "salesjet_email_designer_tour", login="admin")
        self.assertIn("<h1", str(email.email_body_arch), "the block dragged in is saved in the design")
        self.assertIn("<h1", str(email.email_body), "and in the body sent")
        self.assertIn("style=", str(email.email_body), "with its styles inlined for mail clients")
        self.assertIn("<h1", str(email.mail_template_id.body_html))
        self.start_tour(f"/odoo/salesjet.flow.step/{sms.id}", "salesjet_sms_composer_tour", login="admin")
