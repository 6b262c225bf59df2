{
    "name": "SalesJet Flows",
    "version": "18.0.1.0.0",
    "category": "Marketing/Marketing Automation",
    "summary": "Marketing flows: events enrol contacts into chains of timed, conditional steps",
    "description": """
SalesJet Flows
==============
A flow reacts to what a contact does and runs a chain of steps for that
contact: immediately, after a delay or at a date, and only when the step's
conditions hold. Steps run in batches from a scheduled action that several
workers can share safely.
""",
    "author": "SalesJet Flows",
    "website": "https://github.com/salesjet/salesjet_flows",
    "license": "LGPL-3",
    "depends": [
        "contacts",
        "crm",
        "mass_mailing",
        "sms",
        "website_crm",
        "product",
    ],
    "data": [
        "security/salesjet_flows_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "data/salesjet_special_offer_cron.xml",
        "data/salesjet_flow_goal_cron.xml",
        "data/salesjet_split_cron.xml",
        "data/salesjet_flow_template_data.xml",
        "wizard/salesjet_flow_launch_views.xml",
        "wizard/salesjet_flow_import_views.xml",
        "wizard/salesjet_flow_test_run_views.xml",
        "wizard/salesjet_flow_step_remove_views.xml",
        "wizard/salesjet_step_test_views.xml",
        "wizard/salesjet_call_test_views.xml",
        "views/salesjet_flow_template_views.xml",
        "views/salesjet_flow_views.xml",
        "views/salesjet_flow_version_views.xml",
        "views/salesjet_flow_trigger_views.xml",
        "views/salesjet_flow_step_views.xml",
        "views/salesjet_flow_condition_views.xml",
        "views/salesjet_flow_enrollment_views.xml",
        "views/salesjet_flow_job_views.xml",
        "views/salesjet_event_views.xml",
        "views/salesjet_chain_message_views.xml",
        "views/salesjet_chain_answer_views.xml",
        "views/salesjet_call_template_views.xml",
        "views/salesjet_product_access_views.xml",
        "views/salesjet_special_offer_views.xml",
        "views/salesjet_funnel_views.xml",
        "views/salesjet_download_views.xml",
        "views/salesjet_facebook_form_views.xml",
        "views/res_partner_views.xml",
        "views/res_config_settings_views.xml",
        "views/salesjet_chain_answer_templates.xml",
        "views/salesjet_exit_intent_templates.xml",
        "views/salesjet_flows_menus.xml",
    ],
    "demo": [
        "demo/salesjet_flows_demo.xml",
        "demo/salesjet_call_demo.xml",
        "demo/salesjet_chain_demo.xml",
        "demo/salesjet_flow_template_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "salesjet_flows/static/src/flow_diagram/*",
        ],
        "web.assets_frontend": [
            "salesjet_flows/static/src/js/exit_intent.js",
        ],
        "web.assets_tests": [
            "salesjet_flows/static/tests/tours/*.js",
        ],
    },
    "application": True,
    "installable": True,
}
