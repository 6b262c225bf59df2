import hashlib

from odoo import fields, models


def digest(expression):
    return hashlib.sha256(expression.strip().encode()).hexdigest()


class SalesjetPlaceholderApproval(models.Model):
    """A placeholder expression beyond the placeholder language that a Settings administrator saved.

    The scheduler renders step texts with the cron's rights: an expression outside the language
    (docs/user-guide.md, "Placeholders") runs only if it is listed here. Rows are only created by the check on
    save of a Settings administrator's text (with sudo); nobody else can add one, so a text that
    reached the database another way (SQL, a template edited later) is refused at render time.
    """
    _name = "salesjet.placeholder.approval"
    _description = "Placeholder approved by a Settings administrator"
    _order = "id desc"
    _rec_name = "expression"

    digest = fields.Char(required=True, index=True, readonly=True,
                         help="SHA-256 of the expression, as it is looked up at render time.")
    expression = fields.Text(required=True, readonly=True)

    _sql_constraints = [("digest_unique", "UNIQUE(digest)", "An expression is approved once.")]

    def _approve(self, expressions):
        """Record ``expressions`` (a list of str) as saved by a Settings administrator."""
        known = self._approved_digests(expressions)
        new = {digest(e): e.strip() for e in expressions if digest(e) not in known}
        if new:
            self.sudo().create([{"digest": d, "expression": e} for d, e in new.items()])

    def _unapproved(self, expressions):
        """The expressions of ``expressions`` no Settings administrator saved (one query)."""
        approved = self._approved_digests(expressions)
        return [e for e in expressions if digest(e) not in approved]

    def _approved_digests(self, expressions):
        rows = self.sudo().search_fetch([("digest", "in", [digest(e) for e in expressions])], ["digest"])
        return set(rows.mapped("digest"))
