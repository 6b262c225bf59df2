"""Placeholders by allow-list (docs/user-guide.md, "Placeholders"), tried as an attacker would.

The attacker is a Flows administrator and an email template editor, not a Settings
administrator. The scheduler renders step texts with the cron's rights: whatever such a
user saves must stay a placeholder (field paths, event values, named helpers), in every
text, in every template a step uses, and even when the text reached the database another way.
"""
from odoo.exceptions import ValidationError
from odoo.tests import new_test_user

from .common import T0, SalesjetCase

# probe -> the expression the refusal must name
PROBES = {
    # a format string reaches any attribute, private ones included
    "{{ '{0.env.cr.dbname}'.format(object) }}": "'{0.env.cr.dbname}'.format(object)",
    "{{ object.user_ids.web_search_read([], dict(login=dict()), limit=3) }}":
        "object.user_ids.web_search_read([], dict(login=dict()), limit=3)",
    "{{ object.web_save({'name': 'pwned'}, {}) }}": "object.web_save({'name': 'pwned'}, {})",
    "{{ object.sudo().name }}": "object.sudo().name",
    "{{ [p.name for p in object.child_ids] }}": "[p.name for p in object.child_ids]",
    "{{ object.__class__ }}": "object.__class__",
    "{{ object._name }}": "object._name",
    "{{ (lambda: object).__name__ }}": "(lambda: object).__name__",
    "{{ object.name[0] }}": "object.name[0]",
    "{{ object.name.upper() }}": "object.name.upper()",
    "{{ ctx }}": "ctx",
    "{{ user.login }}": "user.login",
    "{{ object.no_such_field }}": "object.no_such_field",
    "{{ event.get(object.name) }}": "event.get(object.name)",
    "{{ object.salesjet_popular_products(object.id).name }}": "object.salesjet_popular_products(object.id).name",
}


class TestPlaceholders(SalesjetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("salesjet_flows.webhook_allow_private", "True")
        cls.attacker = new_test_user(
            cls.env, "sj_ph_attacker",
            groups="base.group_user,salesjet_flows.group_salesjet_manager,mail.group_mail_template_editor")
        cls.admin = new_test_user(cls.env, "sj_ph_admin",
                                  groups="base.group_system,salesjet_flows.group_salesjet_manager")
        cls.flow = cls.make_flow([cls.tag_step(cls.tag_a)])
        cls.chain = cls.env["salesjet.flow"].create({"state": "running",
            "name": "SJ placeholders chain", "kind": "chain"})
        cls.partner_model_id = cls.env["ir.model"]._get_id("res.partner")

    def text_writers(self, env, text):
        """Every place a Flows administrator writes a text that the scheduler renders."""
        flow = self.flow.with_env(env)
        Step = env["salesjet.flow.step"]
        base = {"flow_id": flow.id}
        return {
            "email subject": lambda: Step.create({**base, "action_type": "email", "email_source": "custom",
                                                  "email_subject": text, "email_body": "<p>x</p>"}),
            "email body": lambda: Step.create({**base, "action_type": "email", "email_source": "custom",
                                               "email_subject": "Hi", "email_body": f"<p>{text}</p>"}),
            "SMS": lambda: Step.create({**base, "action_type": "sms", "sms_body": text}),
            "note": lambda: Step.create({**base, "action_type": "note", "note_body": text}),
            "employee message": lambda: Step.create({**base, "action_type": "notify_user", "note_body": text,
                                                     "notify_user_id": self.admin.id}),
            "webhook body": lambda: Step.create({
                **base, "action_type": "webhook", "webhook_url": "http://127.0.0.1:9/h",
                "webhook_body": '{"x": "' + text.replace('"', "'") + '"}'}),
            "call script": lambda: env["salesjet.call.template"].create({
                "name": "x", "line_ids": [(0, 0, {"kind": "say", "text": text})]}),
            "chain message subject": lambda: env["salesjet.chain.message"].create({
                "flow_id": self.chain.id, "channel": "email", "subject": text, "body": "<p>Hi</p>"}),
            "chain message body": lambda: env["salesjet.chain.message"].create({
                "flow_id": self.chain.id, "channel": "email", "subject": "Hi", "body": f"<p>{text}</p>"}),
        }

    def assertRefusedNaming(self, write, expression):
        with self.assertRaises(ValidationError) as caught, self.env.cr.savepoint():
            write()
        self.assertIn(expression, str(caught.exception), "the refusal names the offending expression")
        return str(caught.exception)

    def make_template(self, env, body, subject="Hello"):
        return env["mail.template"].create({"name": "SJ ph template", "model_id": self.partner_model_id,
                                            "subject": subject, "body_html": body})

    # -- the attacker's probes ----------------------------------------------------

    def test_every_probe_is_refused_in_every_text_with_the_expression_named(self):
        env = self.env(user=self.attacker)
        self.assertFalse(self.attacker.has_group("base.group_system"))
        for text, expression in PROBES.items():
            for where, write in self.text_writers(env, text).items():
                if where == "webhook body":
                    expression_here = expression.replace('"', "'")
                else:
                    expression_here = expression
                with self.subTest(where=where, text=text):
                    self.assertRefusedNaming(write, expression_here)

    def test_deeply_nested_expression_is_refused_not_crashing(self):
        deep = "object." + "parent_id." * 3000 + "name"
        write = self.text_writers(self.env(user=self.attacker), f"{{{{ {deep} }}}}")["note"]
        self.assertRefusedNaming(write, "object.parent_id.parent_id")

    def test_qweb_directives_that_run_code_are_refused_in_html_bodies(self):
        env = self.env(user=self.attacker)
        Step = env["salesjet.flow.step"]
        for body, named in (
                ('<p t-foreach="object.child_ids" t-as="c">x</p>', "t-foreach"),
                ("<p t-set='x' t-value='object.sudo()'>x</p>", "t-set"),
                ("<p T-OUT='object.sudo().name'>x</p>", "object.sudo().name"),
                ('<p t-if="object.sudo()">x</p>', "object.sudo()"),
                ('<p t-att-title="object.env.user.login">x</p>', "t-att-title")):
            with self.subTest(body=body):
                template = self.make_template(self.env, body)
                self.assertRefusedNaming(lambda template=template: Step.create({
                    "flow_id": self.flow.id, "action_type": "email", "email_source": "template",
                    "mail_template_id": template.id}), named)

    def test_existing_mail_template_calling_sudo_is_refused_for_a_step(self):
        """A template someone else wrote (an email template of the database) is a step text too."""
        template = self.make_template(self.env, '<p>Hi <t t-out="object.sudo().user_ids.login"/></p>')
        Step = self.env(user=self.attacker)["salesjet.flow.step"]
        self.assertRefusedNaming(lambda: Step.create({
            "flow_id": self.flow.id, "action_type": "email", "email_source": "template",
            "mail_template_id": template.id}), "object.sudo().user_ids.login")
        subject_template = self.make_template(self.env, "<p>Hi</p>", subject="{{ object.sudo().name }}")
        self.assertRefusedNaming(lambda: Step.create({
            "flow_id": self.flow.id, "action_type": "email", "email_source": "template",
            "mail_template_id": subject_template.id}), "object.sudo().name")

    def test_existing_sms_template_calling_sudo_is_refused_for_a_step(self):
        template = self.env["sms.template"].create({"name": "SJ ph sms", "model_id": self.partner_model_id,
                                                    "body": "Hi {{ object.sudo().name }}"})
        self.assertRefusedNaming(lambda: self.env(user=self.attacker)["salesjet.flow.step"].create({
            "flow_id": self.flow.id, "action_type": "sms", "sms_template_id": template.id}), "object.sudo().name")

    def test_template_edited_later_to_add_sudo_is_refused_while_a_step_uses_it(self):
        env = self.env(user=self.attacker)
        template = self.make_template(env, '<p>Hi <t t-out="object.name"/></p>')
        env["salesjet.flow.step"].create({"flow_id": self.flow.id, "action_type": "email",
                                          "email_source": "template", "mail_template_id": template.id})
        mine = template.with_env(env)
        self.assertRefusedNaming(lambda: mine.write({"body_html": '<p t-out="object.sudo().name"/>'}),
                                 "object.sudo().name")
        self.assertRefusedNaming(lambda: mine.write({"subject": "{{ object.env.cr.dbname }}"}),
                                 "object.env.cr.dbname")
        self.env["res.lang"]._activate_lang("fr_FR")
        self.assertRefusedNaming(lambda: mine._update_field_translations(
            "subject", {"fr_FR": "{{ object.sudo().name }}"}), "object.sudo().name")
        self.assertEqual(template.with_context(lang="fr_FR").subject, "Hello")
        # allowed placeholders stay writable; a template no step uses follows Odoo's rules only
        mine.write({"subject": "Hello {{ object.name ||| friend }}"})
        unused = self.make_template(env, "<p>x</p>")
        unused.write({"subject": "{{ object.sudo().name }}"})

    def test_step_own_template_written_by_the_step_passes_the_check(self):
        env = self.env(user=self.attacker)
        step = env["salesjet.flow.step"].create({
            "flow_id": self.flow.id, "action_type": "email", "email_source": "custom",
            "email_subject": "Hi {{ object.name ||| friend }}", "email_body": "<p>{{ company.name }}</p>"})
        step.write({"email_subject": "Hello {{ lead.name ||| friend }}"})
        self.assertIn("lead.name", step.mail_template_id.subject)

    # -- Settings administrators keep Odoo's sandbox ------------------------------

    def test_settings_administrator_may_save_the_same_texts(self):
        env = self.env(user=self.admin)
        for text in ("{{ '{0.name}'.format(object) }}",
                     "{{ object.user_ids.web_search_read([], dict(login=dict()), limit=3) }}",
                     "{{ [p.name for p in object.child_ids] }}", "{{ object.name.upper() }}"):
            for where, write in self.text_writers(env, text).items():
                with self.subTest(where=where, text=text):
                    write()
        template = self.make_template(env, '<p>Hi <t t-out="object.sudo().name"/></p>')
        env["salesjet.flow.step"].create({"flow_id": self.flow.id, "action_type": "email",
                                          "email_source": "template", "mail_template_id": template.id})
        template.write({"subject": "{{ object.sudo().name }}"})

    def test_settings_administrator_text_beyond_the_language_runs_in_odoo_sandbox(self):
        flow = self.make_flow([])
        self.env(user=self.admin)["salesjet.flow.step"].create({
            "flow_id": flow.id, "action_type": "note", "note_body": "Upper {{ object.name.upper() }}"})
        partner = self.make_partners(1)
        with self.at(T0):
            flow._enroll(partner.ids)
            self.run_scheduler()
        job = self.jobs_of(flow)
        self.assertEqual(job.state, "done")
        self.assertIn(partner.name.upper(), str(self.env["mail.message"].browse(job.res_id).body))

    # -- the language itself --------------------------------------------------------

    def test_allowed_placeholders_render_for_the_contact_lead_company_and_event(self):
        product = self.env["product.product"].create({"name": "SJ ph bestseller", "sale_ok": True})
        self.patch(type(self.env["res.partner"]), "salesjet_popular_products", lambda self, limit=3: product)
        self.env.company.name = "SJ ph company"
        text = ("N={{ object.name }} P={{ object.parent_id.name ||| no parent }} C={{ object.country_id.code }} "
                "L={{ lead.name ||| no lead }} LP={{ lead.partner_id.email }} CO={{ company.name }} "
                "E={{ event.get('plan') ||| basic }} M={{ event.get('missing') ||| none }} "
                "B={{ object.salesjet_popular_products(1).name ||| our bestseller }} "
                "D={{ format_date(lead.date_deadline) }} A={{ format_amount(lead.expected_revenue, "
                "company.currency_id) }} T={{ format_datetime(object.create_date, 'UTC', 'yyyy') }}")
        flow = self.make_flow([])
        self.env(user=self.attacker)["salesjet.flow.step"].create({
            "flow_id": flow.id, "action_type": "note", "note_body": text})
        parent = self.env["res.partner"].create({"name": "SJ ph parent", "is_company": True})
        partner = self.make_partners(1, parent_id=parent.id, country_id=self.env.ref("base.fr").id)
        lead = self.env["crm.lead"].create({"name": "SJ ph lead", "partner_id": partner.id,
                                            "expected_revenue": 1234.5, "date_deadline": "2026-04-01"})
        with self.at(T0):
            flow._enroll(partner.ids, lead=lead, data={"plan": "gold"})
            self.run_scheduler()
        job = self.jobs_of(flow)
        self.assertEqual(job.state, "done", job.error)
        body = str(self.env["mail.message"].browse(job.res_id).body)
        amount = self.env["mail.render.mixin"]._render_eval_context()["format_amount"](
            1234.5, self.env.company.currency_id)
        for expected in (f"N={partner.name}", "P=SJ ph parent", "C=FR", "L=SJ ph lead", f"LP={partner.email}",
                         "CO=SJ ph company", "E=gold", "M=none", "B=SJ ph bestseller",
                         "A=" + amount.replace("\xa0", "&nbsp;"), f"T={partner.create_date.year}"):
            self.assertIn(expected, body)
        self.assertNotIn("D= ", body, "the date is formatted")

    def test_contact_values_stay_escaped_in_html_bodies(self):
        flow = self.make_flow([])
        self.env(user=self.attacker)["salesjet.flow.step"].create({
            "flow_id": flow.id, "action_type": "email", "email_source": "custom",
            "email_subject": "Hi {{ object.name }}", "email_body": "<p>Dear {{ object.name ||| friend }}</p>"})
        partner = self.make_partners(1)
        partner.name = "<b>Bold</b>"
        with self.at(T0):
            flow._enroll(partner.ids)
            self.run_scheduler()
        job = self.jobs_of(flow)
        self.assertEqual(job.state, "done", job.error)
        self.assertIn("&lt;b&gt;Bold&lt;/b&gt;", str(self.env["mail.mail"].browse(job.res_id).body_html))

    # -- texts that bypassed the check on save ------------------------------------------

    def test_text_written_by_sql_is_not_executed_by_the_scheduler(self):
        flow = self.make_flow([])
        step = self.env(user=self.attacker)["salesjet.flow.step"].create({
            "flow_id": flow.id, "action_type": "note", "note_body": "Hi {{ object.name }}"})
        self.env.flush_all()
        self.env.cr.execute("UPDATE salesjet_flow_step SET note_body = %s WHERE id = %s",
                            ['{"en_US": "{{ object.write({\'name\': \'pwned\'}) }}"}', step.id])
        self.env.invalidate_all()
        partner = self.make_partners(1)
        name = partner.name
        with self.at(T0):
            flow._enroll(partner.ids)
            self.run_scheduler()
        job = self.jobs_of(flow)
        self.assertEqual(job.state, "failed", "refused at once, without retry")
        self.assertIn("object.write({'name': 'pwned'})", job.result)
        self.assertEqual(job.enrollment_id.state, "failed")
        partner.invalidate_recordset()
        self.assertEqual(partner.name, name, "nothing was executed")
        self.assertFalse(self.env["mail.message"].search([("model", "=", "res.partner"), ("res_id", "=", partner.id),
                                                          ("body", "ilike", "pwned")]))

    def test_template_changed_by_sql_is_not_executed_by_the_scheduler(self):
        flow = self.make_flow([])
        template = self.make_template(self.env(user=self.attacker), '<p>Hi <t t-out="object.name"/></p>')
        self.env(user=self.attacker)["salesjet.flow.step"].create({
            "flow_id": flow.id, "action_type": "email", "email_source": "template", "mail_template_id": template.id})
        self.env.flush_all()
        self.env.cr.execute("UPDATE mail_template SET body_html = %s WHERE id = %s",
                            ['{"en_US": "<p t-out=\\"object.sudo().write({\'name\': \'pwned\'})\\"/>"}', template.id])
        self.env.invalidate_all()
        partner = self.make_partners(1)
        with self.at(T0):
            flow._enroll(partner.ids)
            self.run_scheduler()
        job = self.jobs_of(flow)
        self.assertEqual(job.state, "failed")
        self.assertIn("object.sudo().write", job.result)
        self.assertFalse(self.env["mail.mail"].search([("res_id", "=", partner.id), ("model", "=", "res.partner")]))
        self.assertNotEqual(partner.name, "pwned")

    # -- every language ---------------------------------------------------------------

    def test_refusal_is_translated(self):
        self.env["res.lang"]._activate_lang("es_ES")
        text = "{{ object.sudo().name }}"
        english = self.assertRefusedNaming(self.text_writers(self.env(user=self.attacker), text)["note"],
                                           "object.sudo().name")
        spanish_env = self.env(user=self.attacker, context=dict(self.env.context, lang="es_ES"))
        spanish = self.assertRefusedNaming(self.text_writers(spanish_env, text)["note"], "object.sudo().name")
        self.assertNotEqual(english, spanish)
        self.assertIn("no está permitido", spanish)

    # -- what ships ---------------------------------------------------------------------

    def test_shipped_flows_and_templates_use_only_the_placeholder_language(self):
        """Demo flows, the flows of the template gallery and the templates their steps use stay within
        the language, so they run whoever saved them (and a non-administrator may edit them)."""
        from ..models.salesjet_flow_step_email import TEMPLATE_TEXTS
        from ..tools.placeholders import inline_to_qweb, placeholders_refused
        # the attacker (not a Settings administrator) can use every template of the gallery
        for template in self.env["salesjet.flow.template"].search([]).filtered("available"):
            with self.subTest(template=template.name):
                template.with_user(self.attacker).action_use()
        texts = []
        steps = self.env["salesjet.flow.step"].with_context(active_test=False).search([])
        self.assertTrue(steps)
        for step in steps:
            if step.action_type == "email":
                texts += [(step, step.mail_template_id[f], engine) for f, engine in TEMPLATE_TEXTS]
            texts += [(step, step.sms_template_id.body or step.sms_body, "inline_template"),
                      (step, step.note_body, "inline_template"), (step, step.webhook_body, "inline_template")]
            texts += [(step, line.text, "inline_template") for line in step.call_template_id.line_ids]
            for fname in ("loyalty_notice_before_text", "loyalty_notice_expired_text"):
                if fname in step._fields:
                    texts.append((step, step[fname], "inline_template"))
        for message in self.env["salesjet.chain.message"].with_context(active_test=False).search([]):
            texts += [(message, message.subject, "inline_template"), (message, inline_to_qweb(message.body), "qweb")]
        self.assertGreater(len([t for t in texts if "{{" in str(t[1] or "") or "t-out" in str(t[1] or "")]), 5)
        for record, text, engine in texts:
            with self.subTest(record=record.display_name, text=text):
                self.assertEqual(placeholders_refused(self.env, text, engine, extra=("points", "expiry")), [])
