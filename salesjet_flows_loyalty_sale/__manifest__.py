{
    "name": "SalesJet Flows - Loyalty and Sales",
    "version": "18.0.1.0.0",
    "category": "Marketing/Marketing Automation",
    "summary": "Every confirmed sale order starts the loyalty scenarios of its products, with or without a card",
    "description": """
SalesJet Flows - Loyalty and Sales
==================================
Glue between the loyalty bridge and Sales, installed automatically when both
are: a confirmed sale order (a quotation confirmed by a salesperson, or a shop
order) posts the loyalty "purchase" event of its customer, whether or not the
order moved a loyalty card, so "Client makes a purchase" triggers filtered by
products or categories start their scenarios on a plain Sales install.
""",
    "author": "SalesJet Flows",
    "website": "https://github.com/salesjet/salesjet_flows",
    "license": "LGPL-3",
    "depends": ["salesjet_flows_loyalty", "sale"],
    "auto_install": True,
    "installable": True,
}
