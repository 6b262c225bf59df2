import re
from datetime import timedelta
from urllib.parse import urlparse

from odoo import http
from odoo.exceptions import ValidationError
from odoo.tests import HttpCase, new_test_user, users

from odoo.addons.mail.tests.common import MockEmail
from odoo.addons.sms.tests.common import SMSCase

from .common import T0, SalesjetCase

ANSWER_LINK = re.compile(r'href="([^"]*/salesjet/chain/answer/[^"]+)"')


class ChainCase(SalesjetCase):
    """A pet shop's chain: congratulations now, care tips 3 hours later, a fun fact 2 days later."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.email = "shop@example.com"
        cls.fish_lovers = cls.env["res.partner.category"].create({"name": "SJ fish lovers", "color": 4})
        cls.chain = cls.env["salesjet.flow"].create({"state": "running", "name": "Fish chain", "kind": "chain"})
        cls.env["salesjet.flow.trigger"].create({"flow_id": cls.chain.id, "trigger_type": "api",
                                                 "event_code": "fish_bought"})
        Message = cls.env["salesjet.chain.message"]
        cls.msg_congrats = Message.create({
            "flow_id": cls.chain.id, "sequence": 1, "channel": "email",
            "subject": "Congratulations {{ object.name }}", "body": "<p>Your {{ event.get('fish') ||| fish }}!</p>"})
        cls.msg_care = Message.create({
            "flow_id": cls.chain.id, "sequence": 2, "channel": "email", "delay_value": 3, "delay_unit": "hours",
            "subject": "How to care for it", "body": "<p>Change the water weekly.</p>",
            "button_ids": [
                (0, 0, {"sequence": 1, "label": "Our shop", "kind": "link",
                        "url": "https://petshop.example.com/aquarium"}),
                (0, 0, {"sequence": 2, "label": "More tips please", "kind": "segment",
                        "tag_id": cls.fish_lovers.id, "reply_text": "Great, tips are coming!"}),
                (0, 0, {"sequence": 3, "label": "No thanks", "kind": "reply", "reply_text": "Understood."}),
            ]})
        cls.msg_fact = Message.create({
            "flow_id": cls.chain.id, "sequence": 3, "channel": "email", "delay_value": 2, "delay_unit": "days",
            "subject": "A fun fact", "body": "<p>Goldfish recognise faces.</p>"})

    def chain_mails(self, partner):
        return self.env["mail.mail"].search([("res_id", "=", partner.id), ("model", "=", "res.partner"),
                                             ("subject", "!=", False)], order="id")

    def answer_links(self, mail):
        return [urlparse(url).path for url in ANSWER_LINK.findall(str(mail.body_html))]


class TestChain(ChainCase, MockEmail):

    def test_chain_sends_its_messages_in_order_after_their_delays_through_the_mail_queue(self):
        partner = self.make_partners(1)
        with self.at(T0):
            self.Event.post("fish_bought", partner, data={"fish": "goldfish"})
            self.run_scheduler()
        self.assertEqual(self.chain_mails(partner).mapped("subject"), [f"Congratulations {partner.name}"])
        self.assertIn("Your goldfish!", str(self.chain_mails(partner).body_html))
        with self.at(T0 + timedelta(hours=2, minutes=59)):
            self.run_scheduler()
        self.assertEqual(len(self.chain_mails(partner)), 1, "the care tips wait three hours")
        with self.at(T0 + timedelta(hours=3)):
            self.run_scheduler()
        mails = self.chain_mails(partner)
        self.assertEqual(mails.mapped("subject")[1], "How to care for it")
        self.assertEqual(len(self.answer_links(mails[1])), 3, "one signed link per button")
        with self.at(T0 + timedelta(hours=3, days=2) - timedelta(minutes=1)):
            self.run_scheduler()
        self.assertEqual(len(self.chain_mails(partner)), 2, "the fun fact waits two days after the tips")
        with self.at(T0 + timedelta(hours=3, days=2)):
            self.run_scheduler()
        mails = self.chain_mails(partner)
        self.assertEqual(mails.mapped("subject"),
                         [f"Congratulations {partner.name}", "How to care for it", "A fun fact"])
        self.assertEqual(set(mails.mapped("state")), {"outgoing"}, "queued in Odoo's mail queue")
        self.assertEqual(self.jobs_of(self.chain).enrollment_id.state, "done")
        with self.mock_mail_gateway():
            mails.send()
        self.assertSentEmail(self.env.company.email_formatted, [partner.email_formatted], subject="A fun fact")

    def test_chain_runs_at_most_once_per_client(self):
        scenario = self.make_flow([{"action_type": "chain_start", "chain_flow_id": self.chain.id}],
                                  triggers=[{"trigger_type": "api", "event_code": "purchase"}],
                                  reentry_policy="always", kind="loyalty")
        partner = self.make_partners(1)
        with self.at(T0):
            self.Event.post("purchase", partner)
            self.run_scheduler()
            self.Event.post("purchase", partner)
            self.Event.post("fish_bought", partner)
            self.run_scheduler()
        self.assertEqual(len(self.env["salesjet.flow.enrollment"].search([("flow_id", "=", self.chain.id)])), 1)
        results = self.jobs_of(scenario).mapped("result")
        self.assertIn("Started chain Fish chain.", results)
        self.assertIn("Not started: the contact already had chain Fish chain.", results)
        self.assertEqual(len(self.chain_mails(partner)), 1, "the first message went out once")
        with self.assertRaisesRegex(ValidationError, "at most once per client"):
            self.chain.reentry_policy = "always"

    @users("user_flows_admin")
    def test_chain_messages_generate_and_follow_their_steps(self):
        chain, msg_care, msg_fact = (record.with_env(self.env) for record in (self.chain, self.msg_care, self.msg_fact))
        steps = chain.step_ids
        self.assertEqual(steps.mapped("chain_message_id"), self.msg_congrats | self.msg_care | self.msg_fact)
        self.assertEqual(steps.mapped("timing"), ["immediate", "delay", "delay"])
        copy = chain.copy()
        self.assertEqual(copy.chain_message_ids.mapped("subject"), chain.chain_message_ids.mapped("subject"))
        self.assertEqual(copy.step_ids.chain_message_id, copy.chain_message_ids, "the copy sends its own messages")
        self.assertEqual(len(copy.chain_message_ids.button_ids), 3)
        msg_fact.write({"delay_value": 5, "delay_unit": "minutes"})
        self.assertEqual((msg_fact.step_id.delay_value, msg_fact.step_id.delay_unit), (5, "minutes"))
        step = msg_fact.step_id
        msg_fact.unlink()
        self.assertFalse(step.exists())
        with self.assertRaisesRegex(ValidationError, "http:// or https://"):
            self.env["salesjet.chain.button"].create({"message_id": msg_care.id, "label": "Bad",
                                                      "kind": "link", "url": "javascript:alert(1)"})

    @users("user_flows_admin")
    def test_landing_signup_trigger_matches_its_page(self):
        landing = self.env["salesjet.flow"].create({"state": "running", "name": "Landing chain", "kind": "chain"})
        self.env["salesjet.flow.trigger"].create({"flow_id": landing.id, "trigger_type": "landing_signup",
                                                  "landing_page": "/aquarium"})
        self.env["salesjet.chain.message"].create({"flow_id": landing.id, "channel": "email", "subject": "Hi",
                                                   "body": "<p>Welcome</p>"})
        fish, dog = self.make_partners(2)
        self.Event.post("landing_signup", fish, data={"page": "https://petshop.example.com/aquarium?x=1"})
        self.Event.post("landing_signup", dog, data={"page": "https://petshop.example.com/dogs"})
        self.assertEqual(self.env["salesjet.flow.enrollment"].search([("flow_id", "=", landing.id)]).partner_id, fish)


class TestChainSms(ChainCase, SMSCase):

    def test_sms_chain_message_carries_its_buttons_as_short_links(self):
        self.msg_congrats.write({"channel": "sms", "button_ids": [
            (0, 0, {"label": "Yes", "kind": "reply", "reply_text": "Thanks"})]})
        partner = self.make_partners(1, mobile="+32470123456")
        self.Event.post("fish_bought", partner)
        self.run_scheduler()
        sms = self.env["sms.sms"].browse(self.jobs_of(self.chain).filtered(lambda j: j.state == "done").res_id)
        self.assertEqual(sms.number, "+32470123456")
        self.assertIn("Your fish!", sms.body)
        short = re.search(r"Yes: (\S+)", sms.body).group(1)
        tracker = self.env["link.tracker"].search([("short_url", "=", short)])
        self.assertIn("/salesjet/chain/answer/", tracker.url, "the short link leads to the signed answer page")


class TestChainSegmentStep(SalesjetCase):

    def test_segment_steps_are_tag_steps_that_say_segment(self):
        tag = self.env["res.partner.category"].create({"name": "SJ aquarists", "color": 3})
        flow = self.make_flow([{"action_type": "segment_add", "tag_ids": [(6, 0, tag.ids)]}])
        other = self.make_flow([{"action_type": "segment_remove", "tag_ids": [(6, 0, tag.ids)]}],
                               triggers=[{"trigger_type": "api", "event_code": "sj_other"}])
        self.assertEqual(flow.step_ids.display_name, "Add to segment SJ aquarists")
        partner = self.make_partners(1)
        self.Event.post("sj_test", partner)
        self.run_scheduler()
        self.assertTags(partner, present=tag)
        self.assertEqual(self.jobs_of(flow).result, "Added to segment SJ aquarists")
        self.Event.post("sj_other", partner)
        self.run_scheduler()
        self.assertTags(partner, absent=tag)
        self.assertEqual(self.jobs_of(other).result, "Removed from segment SJ aquarists")
        with self.assertRaisesRegex(ValidationError, "choose the segment"):
            self.env["salesjet.flow.step"].create({"flow_id": flow.id, "action_type": "segment_add"})


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


class TestChainAnswers(ChainCase, HttpCase):

    def setUp(self):
        super().setUp()
        self.authenticate(None, None)  # an anonymous visitor's session, as a client opening the link has

    def send_care_tips(self, partner):
        with self.at(T0):
            self.Event.post("fish_bought", partner)
            self.run_scheduler()
        with self.at(T0 + timedelta(hours=3)):
            self.run_scheduler()
        return self.answer_links(self.chain_mails(partner)[1])

    def answers(self, partner):
        return self.env["salesjet.chain.answer"].search([("partner_id", "=", partner.id)])

    def answer(self, path):
        """What a client does: open the link (the answer page), then press its button (a POST)."""
        page = self.url_open(path)
        self.assertEqual(page.status_code, 200, page.text[:300])
        csrf = CSRF_INPUT.search(page.text)
        self.assertTrue(csrf, "the page's form carries the session's CSRF token")
        return self.url_open(path, data={"csrf_token": csrf.group(1)})

    def test_a_button_click_is_recorded_once_and_applies_its_segment(self):
        partner = self.make_partners(1)
        _shop, tips, no_thanks = self.send_care_tips(partner)
        response = self.answer(tips)
        self.assertEqual(response.status_code, 200)
        self.assertIn("Great, tips are coming!", response.text)
        answers = self.answers(partner)
        self.assertEqual(answers.button_id.label, "More tips please")
        self.assertEqual(answers.message_id, self.msg_care)
        # a marketer (Flows user) reads the answers from the chain and from the message
        marketer = self.user_marketing
        for action in (self.chain.with_user(marketer).action_view_chain_answers(),
                       self.msg_care.with_user(marketer).action_view_answers()):
            self.assertEqual(self.env["salesjet.chain.answer"].with_user(marketer).search(
                action["domain"] + [("partner_id", "=", partner.id)]), answers)
        self.assertTags(partner, present=self.fish_lovers)
        # another button, opened or sent, changes nothing
        partner.category_id = [(3, self.fish_lovers.id)]
        page = self.url_open(no_thanks)
        self.assertIn("already recorded", page.text)
        self.assertIn("Great, tips are coming!", page.text, "the recorded answer's reply is shown")
        self.assertNotIn("<form", page.text, "nothing left to send")
        csrf = http.Request.csrf_token(self)
        response = self.url_open(no_thanks, data={"csrf_token": csrf})
        self.assertEqual(response.status_code, 200)
        self.assertIn("already recorded", response.text)
        self.assertIn("Great, tips are coming!", response.text)
        self.assertEqual(self.answers(partner), answers)
        self.assertTags(partner, absent=self.fish_lovers)

    def test_opening_an_answer_link_records_nothing_until_the_client_presses_the_button(self):
        partner = self.make_partners(1)
        _shop, tips, _no_thanks = self.send_care_tips(partner)
        # what a mail scanner or a link preview does: HEAD, GET, GET again
        self.assertEqual(self.opener.head(self.base_url() + tips, timeout=30).status_code, 200)
        page = self.url_open(tips)
        self.url_open(tips)
        self.assertEqual(page.status_code, 200)
        self.assertIn("More tips please", page.text, "the page shows the button's label")
        self.assertIn('<form method="post"', page.text)
        self.assertFalse(self.answers(partner), "following the link answers nothing")
        self.assertTags(partner, absent=self.fish_lovers)
        response = self.url_open(tips, data={"csrf_token": CSRF_INPUT.search(page.text).group(1)})
        self.assertIn("Great, tips are coming!", response.text)
        self.assertEqual(self.answers(partner).button_id.label, "More tips please")

    def test_the_answer_page_shows_the_label_in_the_clients_language(self):
        self.env["res.lang"]._activate_lang("es_ES")
        self.msg_care.button_ids.filtered(lambda b: b.kind == "segment").with_context(lang="es_ES").write(
            {"label": "Más consejos, por favor", "reply_text": "¡Genial, llegan consejos!"})
        partner = self.make_partners(1)
        partner.lang = "es_ES"
        tips = self.send_care_tips(partner)[1]
        page = self.url_open(tips)
        self.assertIn("Más consejos, por favor", page.text)
        self.assertIn("¡Genial, llegan consejos!", self.answer(tips).text)

    def test_an_answer_sent_without_the_pages_csrf_token_is_refused_and_records_nothing(self):
        partner = self.make_partners(1)
        tips = self.send_care_tips(partner)[1]
        self.url_open(tips)  # the visitor's session
        for label, data in (("no token", {"answer": "1"}), ("a wrong token", {"csrf_token": "0" * 40 + "o9999999999"}),
                            ("a non-ASCII token", {"csrf_token": "éo9999999999"}), ("a token of another session",
                             {"csrf_token": "5ac1f0e5b3c5c3b0d1e0f0a0b0c0d0e0f0a0b0c0o1999999999"})):
            with self.subTest(label):
                response = self.url_open(tips, data=data)
                self.assertEqual(response.status_code, 400, response.text[:300])
                self.assertLess(len(response.text), 200, "a short message, not a traceback")
        self.assertFalse(self.answers(partner))
        self.assertTags(partner, absent=self.fish_lovers)

    def test_a_logged_in_user_answers_through_the_page_too(self):
        user = new_test_user(self.env, login="sj_chain_reader", groups="base.group_portal")
        partner = self.make_partners(1)
        tips = self.send_care_tips(partner)[1]
        self.authenticate(user.login, user.login)
        self.assertEqual(self.url_open(tips, data={"answer": "1"}).status_code, 400, "csrf is checked for users too")
        self.assertFalse(self.answers(partner))
        response = self.answer(tips)
        self.assertIn("Great, tips are coming!", response.text)
        self.assertEqual(self.answers(partner).button_id.label, "More tips please")

    def test_a_link_button_opens_the_shop_without_using_up_the_answer(self):
        partner = self.make_partners(1)
        shop, tips, _no_thanks = self.send_care_tips(partner)
        response = self.url_open(shop, allow_redirects=False)
        self.assertIn(response.status_code, (302, 303))
        self.assertEqual(response.headers["Location"], "https://petshop.example.com/aquarium")
        self.assertFalse(self.answers(partner))
        self.assertEqual(self.answer(tips).status_code, 200)
        self.assertEqual(self.answers(partner).button_id.label,
                         "More tips please", "the client can still answer after visiting the shop")

    def test_forged_or_garbled_tokens_are_refused_and_store_nothing(self):
        partner = self.make_partners(1)
        tips = self.send_care_tips(partner)[1]
        enrollment_id, message_id, button_id, signature = tips.rsplit("/", 1)[1].split(".")
        forged_signature = f"/salesjet/chain/answer/{enrollment_id}.{message_id}.{button_id}.{'0' * 32}"
        other_button = f"/salesjet/chain/answer/{enrollment_id}.{message_id}.{int(button_id) + 1}.{signature}"
        arabic_digits = "".join(chr(0x0660 + int(d)) for d in enrollment_id)
        non_ascii_digit = f"/salesjet/chain/answer/{arabic_digits}.{message_id}.{button_id}.{signature}"
        self.url_open(tips)
        csrf = http.Request.csrf_token(self)
        for path, status in ((forged_signature, 403), (other_button, 403), (non_ascii_digit, 400),
                             ("/salesjet/chain/answer/garbage", 400),
                             ("/salesjet/chain/answer/" + "1." * 200 + "x", 400)):
            for method in ("GET", "POST"):
                with self.subTest(path=path[-40:], method=method):
                    response = self.url_open(path, data={"csrf_token": csrf} if method == "POST" else None)
                    self.assertEqual(response.status_code, status, response.text[:300])
                    self.assertLess(len(response.text), 200, "a short message, not a traceback")
        self.assertFalse(self.answers(partner))
        self.assertTags(partner, absent=self.fish_lovers)
