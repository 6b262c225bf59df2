"""Placeholders render in Odoo's sandbox, and people who are not Settings administrators cannot
smuggle code into a step's texts (emails, SMS, notes, webhooks, call scripts, chain messages).

Steps are rendered by the scheduler as the cron's user, with more rights than their author: so
texts are checked on save, as their author, in every language they are written in.
"""
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user

from .common import T0, SalesjetCase

SMUGGLED = [
    "{{ object.env['res.users'].sudo().search([]).mapped('login') }}",
    "{{ object.sudo().env['ir.config_parameter'].get_param('database.secret') }}",
    "{{ object.search([]).mapped('email') }}",
    "{{ object.write({'name': 'pwned'}) }}",
    "{{ user.env.cr.execute('DROP TABLE x') }}",
    "{{ __import__('os').system('touch /tmp/sj_pwned') }}",
    "{{ object.__class__.__mro__ }}",
    "{{ object._cr.execute('SELECT 1') }}",
    "{{ (lambda: 1).__globals__ }}",
]
REFUSED = (ValidationError, AccessError, UserError)


class TestTemplateSandbox(SalesjetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("salesjet_flows.webhook_allow_private", "True")
        # a Flows administrator who is not a Settings administrator, and a Flows user
        cls.manager = new_test_user(cls.env, "sj_tpl_manager",
                                    groups="base.group_user,salesjet_flows.group_salesjet_manager")
        cls.user = new_test_user(cls.env, "sj_tpl_user", groups="base.group_user,salesjet_flows.group_salesjet_user")
        cls.flow = cls.make_flow([cls.tag_step(cls.tag_a)])
        cls.call_template = cls.env["salesjet.call.template"].create({
            "name": "SJ tpl call", "line_ids": [(0, 0, {"kind": "say", "text": "Hello {{ object.name }}"})]})
        cls.chain = cls.env["salesjet.flow"].create({"state": "running", "name": "SJ tpl chain", "kind": "chain"})

    def text_writers(self, env, text):
        """Every place a Flows administrator writes a text that the scheduler renders."""
        flow = self.flow.with_env(env)
        Step = env["salesjet.flow.step"]
        return {
            "email subject": lambda: Step.create({"flow_id": flow.id, "action_type": "email", "email_source": "custom",
                                                  "email_subject": text, "email_body": "<p>x</p>"}),
            "email body": lambda: Step.create({"flow_id": flow.id, "action_type": "email", "email_source": "custom",
                                               "email_subject": "Hi", "email_body": f"<p>{text}</p>"}),
            "SMS": lambda: Step.create({"flow_id": flow.id, "action_type": "sms", "sms_body": text}),
            "note": lambda: Step.create({"flow_id": flow.id, "action_type": "note", "note_body": text}),
            "webhook body": lambda: Step.create({
                "flow_id": flow.id, "action_type": "webhook", "webhook_url": "http://127.0.0.1:9/h",
                "webhook_body": '{"x": "' + text + '"}'}),
            "call script": lambda: env["salesjet.call.template"].create({
                "name": "x", "line_ids": [(0, 0, {"kind": "say", "text": text})]}),
            "chain message": lambda: env["salesjet.chain.message"].create({
                "flow_id": self.chain.id, "channel": "email", "subject": "Hi", "body": f"<p>{text}</p>"}),
        }

    def assertRefused(self, write, label):
        try:
            with self.env.cr.savepoint():
                write()
        except REFUSED:
            return
        self.fail(f"{label}: accepted")

    def assertAllRefused(self, env, texts):
        for text in texts:
            for where, write in self.text_writers(env, text).items():
                with self.subTest(where=where, text=text):
                    steps_before = self.env["salesjet.flow.step"].search_count([])
                    self.assertRefused(write, f"{where} {text}")
                    self.assertEqual(self.env["salesjet.flow.step"].search_count([]), steps_before)

    def test_flows_administrator_cannot_save_code_in_any_text(self):
        # a template editor, as Odoo makes every employee unless templates are restricted in the settings
        self.env.ref("mail.group_mail_template_editor").write({"users": [(4, self.manager.id)]})
        env = self.env(user=self.manager)
        self.assertFalse(self.manager.has_group("base.group_system"))
        self.assertAllRefused(env, SMUGGLED)
        # plain values of the contact, the lead and the event are fine
        for where, write in self.text_writers(
                env, "{{ object.name ||| friend }} {{ lead.name }} {{ event.get('plan') ||| basic }}").items():
            with self.subTest(where=where):
                write()

    def test_translation_cannot_carry_code_the_text_was_refused(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        step = self.env["salesjet.flow.step"].create({"flow_id": self.flow.id, "action_type": "sms",
                                                      "sms_body": "Hello {{ object.name }}"})
        message = self.env["salesjet.chain.message"].create({
            "flow_id": self.chain.id, "channel": "sms", "body": "<p>Hello {{ object.name }}</p>"})
        line = self.call_template.line_ids
        for record, field, translation in (
                (step, "sms_body", SMUGGLED[0]), (line, "text", SMUGGLED[0]),
                # HTML is translated term by term
                (message, "body", {"Hello {{ object.name }}": SMUGGLED[0]})):
            with self.subTest(model=record._name):
                self.assertRefused(
                    lambda record=record, field=field, translation=translation: record.with_user(
                        self.manager)._update_field_translations(field, {"fr_FR": translation}), "translation")
                self.assertRefused(
                    lambda record=record, field=field: record.with_user(self.manager).with_context(
                        lang="fr_FR").write({field: SMUGGLED[1]}), "write in French")
        self.assertEqual(step.with_context(lang="fr_FR").sms_body, "Hello {{ object.name }}")

    def test_without_template_editor_rights_only_plain_fields_are_allowed(self):
        """Odoo's restricted mode (Settings: Restrict Template Rendering) applies to step texts too."""
        editor = self.env.ref("mail.group_mail_template_editor")
        self.env.ref("base.group_user").write({"implied_ids": [(3, editor.id)]})
        editor.write({"users": [(3, self.manager.id)]})
        self.assertFalse(self.manager.has_group("mail.group_mail_template_editor"))
        env = self.env(user=self.manager)
        self.assertAllRefused(env, ["{{ lead.name }}", "{{ object.email }}", "{{ event.get('plan') }}"])
        env["salesjet.flow.step"].create({"flow_id": self.flow.id, "action_type": "sms",
                                          "sms_body": "Hi {{ object.name }}"})

    def test_flows_user_cannot_write_any_text(self):
        self.assertAllRefused(self.env(user=self.user), ["{{ object.name }}"])

    def test_settings_administrator_keeps_odoo_sandbox_limits(self):
        """Administrators may write code placeholders, inside Odoo's sandbox: no dunders, no imports."""
        admin = self.env.ref("base.user_admin")
        self.assertAllRefused(self.env(user=admin), [SMUGGLED[5], SMUGGLED[6], SMUGGLED[8]])
        self.env(user=admin)["salesjet.flow.step"].create({
            "flow_id": self.flow.id, "action_type": "note", "note_body": "{{ object.search_count([]) > 0 }}"})

    def test_contact_values_are_data_never_template_code(self):
        flow = self.make_flow([
            {"action_type": "email", "email_source": "custom", "email_subject": "Hi {{ object.name }}",
             "email_body": "<p>{{ object.name }} {{ event.get('v') }}</p>"},
            {"action_type": "note", "note_body": "{{ object.name }} {{ event.get('v') }}"},
        ])
        partner = self.make_partners(1)
        partner.name = "{{ object.env['res.users'].sudo().search([]) }} <t t-out=\"7*7\"/> ${7*7}"
        with self.at(T0):
            flow._enroll(partner.ids, data={"v": "{{ 6*7 }} <t t-esc='6*7'/>"})
            self.run_scheduler()
        jobs = self.jobs_of(flow)
        self.assertEqual(jobs.mapped("state"), ["done", "done"])
        mail = self.env["mail.mail"].browse(jobs[0].res_id)
        note = self.env["mail.message"].browse(jobs[1].res_id)
        for text in (mail.subject, str(mail.body_html), str(note.body)):
            self.assertNotIn("49", text)
            self.assertNotIn("42", text)
            self.assertNotIn("res.users(", text)
            self.assertIn("object.env", text, "the name is shown as typed")
