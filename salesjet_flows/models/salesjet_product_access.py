from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

ACCESS_STATES = [
    ("active", "Active"),
    ("revoked", "Revoked"),
]


class SalesjetProductAccess(models.Model):
    """A contact's access to a product (a course, a membership, a download...).

    Access is kept on the variant (``product.product``): it is what a sale
    order line, a course (``slide.channel.product_id``) or a loyalty reward
    points at, so bridges can grant access for exactly what was sold. Most
    products have a single variant; the template is stored too, for filters.

    Rows are never deleted by a flow: revoking sets ``date_revoked`` and keeps
    the row as history. A partial unique index allows one active access per
    contact and product, which makes granting idempotent and race-free.
    """
    _name = "salesjet.product.access"
    _description = "Product Access"
    _order = "date_granted desc, id desc"
    _rec_name = "product_id"

    partner_id = fields.Many2one(
        "res.partner", string="Contact", required=True, ondelete="cascade", index=True)
    product_id = fields.Many2one(
        "product.product", string="Product", required=True, ondelete="cascade", index=True,
        help="The product (variant) the contact has access to.")
    product_tmpl_id = fields.Many2one(
        "product.template", string="Product template", related="product_id.product_tmpl_id", store=True,
        index=True)
    state = fields.Selection(
        ACCESS_STATES, string="Status", required=True, default="active", readonly=True,
        help="Active until the access is revoked; a revoked access stays as history.")
    date_granted = fields.Datetime(string="Granted on", required=True, default=fields.Datetime.now, readonly=True)
    date_revoked = fields.Datetime(string="Revoked on", readonly=True)
    grant_flow_id = fields.Many2one(
        "salesjet.flow", string="Granted by flow", ondelete="set null", index="btree_not_null", readonly=True)
    grant_step_id = fields.Many2one(
        "salesjet.flow.step", string="Granted by step", ondelete="set null", readonly=True)
    revoke_flow_id = fields.Many2one(
        "salesjet.flow", string="Revoked by flow", ondelete="set null", index="btree_not_null", readonly=True)
    revoke_step_id = fields.Many2one(
        "salesjet.flow.step", string="Revoked by step", ondelete="set null", readonly=True)
    company_id = fields.Many2one(
        "res.company", string="Company", index=True, readonly=True,
        help="The company of the flow that granted the access.")

    def init(self):
        # One active access per contact and product; revoked rows are history.
        # Grants rely on it: INSERT ... ON CONFLICT DO NOTHING.
        self.env.cr.execute(SQL("""
            CREATE UNIQUE INDEX IF NOT EXISTS salesjet_product_access_active_uniq
                ON salesjet_product_access (partner_id, product_id) WHERE state = 'active'
        """))

    @api.model_create_multi
    def create(self, vals_list):
        # Flows grant with INSERT ... ON CONFLICT and never get here; a grant by hand is refused
        # with a sentence before the unique index would refuse it with a database error.
        for vals in vals_list:
            if vals.get("state", "active") != "active":
                continue
            existing = self.search([("partner_id", "=", vals.get("partner_id")),
                                    ("product_id", "=", vals.get("product_id")), ("state", "=", "active")], limit=1)
            if existing:
                raise ValidationError(_("%(contact)s already has access to %(product)s: revoke that access first, "
                                        "or keep it.", contact=existing.partner_id.display_name,
                                        product=existing.product_id.display_name))
        return super().create(vals_list)

    @api.depends("partner_id", "product_id")
    def _compute_display_name(self):
        for access in self:
            access.display_name = f"{access.partner_id.display_name} · {access.product_id.display_name}"

    # ------------------------------------------------------------------
    # Set-based grant and revoke (also for other modules, e.g. on a sale)
    # ------------------------------------------------------------------

    @api.model
    def _grant(self, partner_ids, product_ids, step=None, company=None):
        """Give each of ``partner_ids`` an active access to each of ``product_ids``, in one statement.

        Contacts who already have an active access to a product keep it (their
        first grant date stays).

        :return: set of (partner_id, product_id) pairs that were newly granted
        """
        if not partner_ids or not product_ids:
            return set()
        self.env.flush_all()
        now = fields.Datetime.now()
        company = company or (step.company_id if step else self.env.company)
        self.env.cr.execute(SQL(
            """
            INSERT INTO salesjet_product_access
                (partner_id, product_id, product_tmpl_id, state, date_granted, grant_flow_id, grant_step_id,
                 company_id, create_uid, create_date, write_uid, write_date)
            SELECT p.id, pp.id, pp.product_tmpl_id, 'active', %(now)s, %(flow)s, %(step)s,
                   %(company)s, %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM unnest(%(partners)s::int[]) AS p(id)
             CROSS JOIN product_product pp
             WHERE pp.id = ANY(%(products)s)
            ON CONFLICT (partner_id, product_id) WHERE state = 'active' DO NOTHING
            RETURNING partner_id, product_id
            """,
            now=now, flow=step.flow_id.id if step else None, step=step.id if step else None,
            company=company.id or None, uid=self.env.uid,
            partners=list(set(partner_ids)), products=list(set(product_ids)),
        ))
        granted = set(self.env.cr.fetchall())
        self._invalidate_access(partner_ids)
        return granted

    @api.model
    def _revoke(self, partner_ids, product_ids, step=None):
        """End the active accesses of ``partner_ids`` to ``product_ids``, in one statement.

        :return: set of (partner_id, product_id) pairs that were revoked
        """
        if not partner_ids or not product_ids:
            return set()
        self.env.flush_all()
        now = fields.Datetime.now()
        self.env.cr.execute(SQL(
            """
            UPDATE salesjet_product_access
               SET state = 'revoked', date_revoked = %(now)s, revoke_flow_id = %(flow)s, revoke_step_id = %(step)s,
                   write_uid = %(uid)s, write_date = %(now)s
             WHERE partner_id = ANY(%(partners)s) AND product_id = ANY(%(products)s) AND state = 'active'
            RETURNING partner_id, product_id
            """,
            now=now, flow=step.flow_id.id if step else None, step=step.id if step else None, uid=self.env.uid,
            partners=list(set(partner_ids)), products=list(set(product_ids)),
        ))
        revoked = set(self.env.cr.fetchall())
        self._invalidate_access(partner_ids)
        return revoked

    @api.model
    def _invalidate_access(self, partner_ids):
        self.invalidate_model()
        self.env["res.partner"].browse(partner_ids).invalidate_recordset(["salesjet_product_access_ids"])

    # ------------------------------------------------------------------
    # UI
    # ------------------------------------------------------------------

    def action_revoke(self):
        """Revoke these accesses by hand (they stay listed as revoked)."""
        self.check_access("write")
        active = self.filtered(lambda a: a.state == "active")
        for product, accesses in active.grouped("product_id").items():
            self._revoke(accesses.partner_id.ids, product.ids)
        return True
