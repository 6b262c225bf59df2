from odoo.tests import HttpCase, tagged

from .common import SalesjetCase

# Waits for the form (and its notebook) to be drawn; any JS error fails the test.
WAIT_FOR_FORM = """
    const started = Date.now();
    const wait = () => {
        if (document.querySelector('%s')) { console.log('test successful'); }
        else if (Date.now() - started > 20000) { console.error('the form was not drawn'); }
        else { setTimeout(wait, 100); }
    };
    wait();
"""


@tagged("post_install", "-at_install")
class TestBeyondForms(HttpCase, SalesjetCase):
    """The forms added for splits, caps, versions and step removal open in the web client."""

    def test_split_flow_step_version_and_wizard_forms_open(self):
        flow = self.make_flow([
            {"action_type": "split", "name": "Subject test",
             "branch_ids": [(0, 0, {"name": "A", "percentage": 50}), (0, 0, {"name": "B", "percentage": 50})]},
            self.tag_step(self.tag_c),
        ])
        split = flow.step_ids[0]
        self.env["salesjet.flow.step"].create(dict(self.tag_step(self.tag_a), flow_id=flow.id,
                                                   branch_id=split.branch_ids[1].id, sequence=15))
        version = self.env["salesjet.flow.version"].create({"flow_id": flow.id, "summary": "Flow created.",
                                                            "snapshot": {"flows": [{"name": "Test flow"}]}})
        wizard = self.env["salesjet.flow.step.remove"].create({"step_id": split.id})
        for url, selector in (
            (f"/odoo/action-salesjet_flows.salesjet_flow_action/{flow.id}", ".o_form_view .o_salesjet_diagram"),
            (f"/odoo/salesjet.flow.step/{split.id}", ".o_form_view .o_notebook .nav-link[name=split]"),
            (f"/odoo/salesjet.flow.version/{version.id}", ".o_form_view .o_field_text[name=snapshot_text]"),
            (f"/odoo/salesjet.flow.step.remove/{wizard.id}", ".o_form_view .o_field_radio[name=operation]"),
            ("/odoo/action-salesjet_flows.salesjet_flows_config_settings_action",
             ".o_setting_container #salesjet_caps, .o_form_view [name=salesjet_cap_email_day]"),
        ):
            with self.subTest(url=url):
                self.browser_js(url, WAIT_FOR_FORM % selector, ready="", login="admin", timeout=60)
