from odoo import _, api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools.safe_eval import safe_eval

# Trigger types and the event kind each one listens to. A type without an
# event kind is launched by hand (a segment). Bridge modules add their types
# with ``selection_add`` and an entry in ``_event_kinds()``.
TRIGGER_TYPES = [
    ("segment", "Manual launch for a segment"),
    ("api", "Event posted through the API"),
]


class SalesjetFlowTrigger(models.Model):
    _name = "salesjet.flow.trigger"
    _check_company_auto = True
    _inherit = ["salesjet.engine.cache.mixin"]
    _description = "Flow Trigger"
    _order = "flow_id, sequence, id"

    flow_id = fields.Many2one("salesjet.flow", string="Flow", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="flow_id.company_id", store=True, index=True)
    sequence = fields.Integer(default=10)
    trigger_type = fields.Selection(
        TRIGGER_TYPES, string="Starts when", required=True, default="segment",
        help="Manual launch for a segment: a user presses Launch and every contact of the segment is enrolled.\n"
             "Event posted through the API: another module or system posts an event with this code.",
    )
    event_code = fields.Char(
        string="Event code",
        help="The code the event is posted with, e.g. newsletter_signup "
             "(env['salesjet.event'].post('newsletter_signup', partner)).",
    )
    partner_domain = fields.Char(
        string="Contacts", default="[]",
        help="Only contacts matching this filter are enrolled. For a segment launch this is the segment.",
    )
    name = fields.Char(compute="_compute_name")
    # the product filter of the purchase triggers that bridges add (shop, loyalty): declared once here, so
    # that a trigger has one filter, in one pair of tables, whichever bridges are installed
    product_tmpl_ids = fields.Many2many(
        "product.template", "salesjet_flow_trigger_product_template_rel", "trigger_id", "product_tmpl_id",
        check_company=True,
        ondelete="restrict",  # never widen a filter silently: a used record cannot be deleted
        string="Products", help="The order holds at least one of these products (any variant).",
    )
    product_categ_ids = fields.Many2many(
        "product.category", "salesjet_flow_trigger_product_category_rel", "trigger_id", "categ_id",
        ondelete="restrict",
        string="Product categories",
        help="The order holds a product of one of these categories or of their sub-categories.",
    )

    @api.depends("trigger_type", "event_code")
    def _compute_name(self):
        labels = dict(self._fields["trigger_type"]._description_selection(self.env))
        for trigger in self:
            label = labels.get(trigger.trigger_type, "")
            trigger.name = f"{label}: {trigger.event_code}" if trigger.event_code else label

    @api.constrains("trigger_type", "event_code")
    def _check_event_code(self):
        for trigger in self:
            if trigger.trigger_type == "api" and not (trigger.event_code or "").strip():
                raise ValidationError(_("Give the API trigger of flow “%s” an event code, e.g. newsletter_signup.",
                                        trigger.flow_id.name))

    def _match_products(self, event):
        """Whether the purchase ``event`` (its data's ``product_template_ids`` and ``product_category_ids``)
        passes this trigger's product filter; no filter: every purchase does."""
        if not self.product_tmpl_ids and not self.product_categ_ids:
            return True
        data = event.data or {}
        return bool(set(self.product_tmpl_ids.ids) & set(data.get("product_template_ids") or [])
                    or set(self.product_categ_ids.ids) & set(data.get("product_category_ids") or []))

    @api.constrains("partner_domain")
    def _check_partner_domain(self):
        for trigger in self:
            try:
                self.env["res.partner"].search_count(trigger._get_partner_domain(), limit=1)
            except Exception as e:
                raise ValidationError(_("The contact filter of trigger “%(trigger)s” is not valid: %(error)s",
                                        trigger=trigger.name, error=e)) from e

    @api.model
    @tools.ormcache("kind", "company_id")
    def _cached_triggers(self, kind, company_id):
        """(id, type, event code, flow id, contact domain) of the triggers of active flows
        listening to events of ``kind``.

        Cleared whenever a trigger or a flow changes (see create/write/unlink).
        """
        types = [trigger_type for trigger_type, event_kind in self._event_kinds().items() if event_kind == kind]
        triggers = self.sudo().search([
            ("trigger_type", "in", types), ("flow_id.active", "=", True), ("company_id", "=", company_id),
        ])
        return tuple((t.id, t.trigger_type, t.event_code, t.flow_id.id, t.partner_domain) for t in triggers)

    @api.model
    def _event_kinds(self):
        """Map each trigger type to the ``salesjet.event`` kind it listens to."""
        return {"api": "api"}

    def _get_partner_domain(self):
        self.ensure_one()
        return list(safe_eval(self.partner_domain or "[]", {"uid": self.env.uid}))

    def _matches_event(self, event):
        """Whether this trigger starts its flow for ``event`` (kind already matched).

        Types with parameters override ``_match_<type>``; the default accepts.
        """
        self.ensure_one()
        matcher = getattr(self, f"_match_{self.trigger_type}", None)
        return matcher(event) if matcher else True

    def _match_api(self, event):
        return (self.event_code or "").strip() == (event.code or "").strip()
