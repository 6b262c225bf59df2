{
    "name": "SalesJet Flows - Loyalty and Sales",
    "version": "18.0.1.0.0",
    "category": "Marketing/Marketing Automation",
    "summary": "Every confirmed sale order starts the loyalty scenarios of its products, with or without a card",
    "author": "SalesJet Flows",
    "website": "https://github.com/salesjet/salesjet_flows",
    "license": "LGPL-3",
    "depends": ["salesjet_flows_loyalty", "sale"],
    "auto_install": True,
    "installable": True,
}
