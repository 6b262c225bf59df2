import shutil

from odoo.tests import HttpCase, tagged

BROWSERS = ("google-chrome", "chromium", "chromium-browser", "google-chrome-stable")


@tagged("post_install", "-at_install")
class TestGalleryTour(HttpCase):

    def test_gallery_edit_diagram_and_test_run_in_the_browser(self):
        # Odoo would skip the tour without a browser: here that is a failure, not a silent pass
        if not any(shutil.which(name) for name in BROWSERS):
            self.fail("Chromium is not installed: install it (apt-get install chromium) to run the browser tests.")
        try:
            import websocket  # noqa: F401
        except ImportError:
            self.fail("websocket-client is not installed in this Python: pip install websocket-client.")
        Flow = self.env["salesjet.flow"]
        before = Flow.search([("name", "=", "Newsletter welcome")])
        mails, sms = self.env["mail.mail"].search_count([]), self.env["sms.sms"].search_count([])
        self.start_tour("/odoo/action-salesjet_flows.salesjet_flow_action", "salesjet_gallery_tour", login="admin")
        flow = Flow.search([("name", "=", "Newsletter welcome")]) - before
        self.assertEqual(len(flow), 1, "the gallery created the flow")
        sms_step = flow.step_ids.filtered(lambda s: s.action_type == "sms")
        self.assertEqual((sms_step.delay_value, sms_step.delay_unit), (2, "days"), "the edit was saved")
        self.assertEqual(self.env["mail.mail"].search_count([]), mails, "the test run sent no email")
        self.assertEqual(self.env["sms.sms"].search_count([]), sms, "the test run sent no SMS")
        self.assertFalse(flow.enrollment_ids)
