import logging
import shutil

from odoo.tests import HttpCase, tagged

from odoo.addons.web.tests.test_js import unit_test_error_checker

from .test_tour import BROWSERS


def _require_browser(case):
    # Odoo would skip without a browser: here that is a failure, not a silent pass
    if not any(shutil.which(name) for name in BROWSERS):
        case.fail("Chromium is not installed: install it (apt-get install chromium) to run the browser tests.")
    try:
        import websocket  # noqa: F401, PLC0415
    except ImportError:
        case.fail("websocket-client is not installed in this Python: pip install websocket-client.")


@tagged("post_install", "-at_install")
class TestCanvasInTheBrowser(HttpCase):

    def test_canvas_unit_tests_pass_in_hoot(self):
        """The Hoot tests of the canvas components (static/tests/*.test.js), filtered on this module,
        as Odoo's own web/tests/test_js.py runs the web client's."""
        _require_browser(self)
        lines = []
        handler = logging.Handler(level=logging.INFO)
        handler.emit = lambda record: lines.append(record.getMessage())
        logger = logging.getLogger(self._logger.name)  # the browser's console goes to a child of it
        logger.addHandler(handler)
        try:
            self.browser_js(
                # the filter is a regular expression (/.../) on the tests' full names: this module's suite only
                "/web/tests?headless&loglevel=2&preset=desktop&timeout=15000&filter=%2F%40salesjet_flows%2F",
                "", "", login="admin", timeout=600, success_signal="[HOOT] test suite succeeded",
                error_checker=unit_test_error_checker)
        finally:
            logger.removeHandler(handler)
        passed = [line for line in lines if "passed" in line and "tests" in line]
        self.assertTrue(passed, "Hoot said how many tests passed")
        self.assertRegex(passed[-1], r"passed ([1-9]\d*) tests", "the filter found the canvas tests")

    def test_build_the_newsletter_welcome_flow_on_the_canvas_then_see_its_counts_move(self):
        _require_browser(self)
        Flow = self.env["salesjet.flow"]
        before = Flow.search([("name", "=", "Canvas welcome")])
        self.start_tour("/odoo/action-salesjet_flows.salesjet_flow_action/new", "salesjet_canvas_build_tour",
                        login="admin")
        flow = Flow.search([("name", "=", "Canvas welcome")]) - before
        self.assertEqual(len(flow), 1, "the tour created the flow")
        self.assertEqual(flow.state, "running")
        self.assertEqual(flow.trigger_ids.mapped("event_code"), ["canvas_welcome"])
        main = flow.step_ids.filtered(lambda s: not s.branch_id)
        self.assertEqual(main.mapped("action_type"), ["email", "sms", "split"], "the steps in the order built")
        email, sms, split = main
        self.assertEqual(email.email_subject, "Welcome to our newsletter")
        self.assertIn("Thanks for joining us!", email.email_body)
        self.assertEqual((sms.timing, sms.delay_value, sms.delay_unit), ("delay", 1, "days"))
        self.assertEqual([(b.name, b.percentage, b.step_ids.note_body) for b in split.branch_ids],
                         [("A", 50.0, "Took branch A"), ("B", 50.0, "Took branch B")])

        # an event enrols a contact; the scheduler runs the email, the SMS waits a day
        reader = self.env["res.partner"].create({"name": "Canvas reader", "email": "reader@example.com",
                                                 "mobile": "+32 470 00 00 01"})
        self.env["salesjet.event"].sudo().post("canvas_welcome", reader)
        Job = self.env["salesjet.flow.job"]
        while Job._process_due_batch():
            pass
        self.assertEqual(Job.search([("step_id", "=", sms.id)]).state, "pending")
        self.start_tour(f"/odoo/action-salesjet_flows.salesjet_flow_action/{flow.id}", "salesjet_canvas_counts_tour",
                        login="admin")
