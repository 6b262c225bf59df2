{
    "name": "SalesJet Flows - Loyalty",
    "version": "18.0.1.0.0",
    "category": "Marketing/Marketing Automation",
    "summary": "Loyalty scenarios: bonus points that expire on their own date, "
               "purchase, registration and birthday triggers",
    "author": "SalesJet Flows",
    "website": "https://github.com/salesjet/salesjet_flows",
    "license": "LGPL-3",
    "depends": ["salesjet_flows", "loyalty"],
    "data": [
        "security/salesjet_flows_loyalty_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "views/salesjet_loyalty_accrual_views.xml",
        "views/salesjet_loyalty_log_views.xml",
        "views/salesjet_flow_views.xml",
        "views/salesjet_flow_step_views.xml",
        "views/salesjet_flow_trigger_views.xml",
        "views/salesjet_chain_message_views.xml",
        "views/res_partner_views.xml",
        "views/salesjet_flows_loyalty_menus.xml",
    ],
    "demo": [
        "demo/salesjet_flows_loyalty_demo.xml",
    ],
    "auto_install": True,
    "installable": True,
}
