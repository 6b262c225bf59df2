{
    "name": "SalesJet Flows - eLearning",
    "version": "18.0.1.0.0",
    "category": "Marketing/Marketing Automation",
    "summary": "Course events start flows; flows enrol contacts in courses and test their progress",
    "author": "SalesJet Flows",
    "website": "https://github.com/salesjet/salesjet_flows",
    "license": "LGPL-3",
    "depends": [
        "salesjet_flows",
        "website_slides",
    ],
    "data": [
        "data/ir_cron_data.xml",
        "views/salesjet_flow_trigger_views.xml",
        "views/salesjet_flow_step_views.xml",
        "views/salesjet_flow_condition_views.xml",
        "data/salesjet_flow_template_data.xml",
    ],
    "demo": [
        "demo/salesjet_flows_elearning_demo.xml",
    ],
    "auto_install": True,
    "installable": True,
}
