from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class SalesjetFlowStep(models.Model):
    """Segments: coloured contact tags, picked or created from the step itself."""
    _inherit = "salesjet.flow.step"

    action_type = fields.Selection(selection_add=[
        ("segment_add", "Add to segment"),
        ("segment_remove", "Remove from segment"),
    ], ondelete={"segment_add": "cascade", "segment_remove": "cascade"})
    segment_name = fields.Char(
        string="New segment",
        help="Name of a segment (a coloured contact tag). When you save, the tag with this name is used, "
             "or created with the colour below if it does not exist yet.",
    )
    segment_color = fields.Integer(string="Colour", default=10, help="Colour of a segment created from this step.")

    @api.constrains("action_type", "tag_ids", "segment_name")
    def _check_segment_settings(self):
        for step in self.filtered(lambda s: s.action_type in ("segment_add", "segment_remove")):
            step._check_action_segment_add()

    def _check_action_segment_add(self):
        if not self.tag_ids:
            raise ValidationError(_("Step “%s”: choose the segment, or type the name of a new one.",
                                    self.display_name))

    _check_action_segment_remove = _check_action_segment_add

    @api.model_create_multi
    def create(self, vals_list):
        vals_list = [dict(vals) for vals in vals_list]
        for vals in vals_list:
            self._resolve_segment(vals)
        return super().create(vals_list)

    def write(self, vals):
        vals = dict(vals)
        self._resolve_segment(vals)
        return super().write(vals)

    @api.depends("name", "action_type", "tag_ids")
    def _compute_display_name(self):
        super()._compute_display_name()
        for step in self.filtered(lambda s: not s.name and s.action_type in ("segment_add", "segment_remove")):
            step.display_name = f"{step.display_name} {', '.join(step.tag_ids.mapped('name'))}".strip()

    @api.model
    def _resolve_segment(self, vals):
        """Turn a typed segment name into the tag of that name, created (with its colour) if new."""
        name = (vals.pop("segment_name", None) or "").strip()
        if not name:
            return
        Tag = self.env["res.partner.category"].sudo()
        tag = Tag.search([("name", "=ilike", name)], limit=1)
        if not tag:
            color = vals.get("segment_color")
            tag = Tag.create({"name": name, "color": color if color is not None else 10})
        vals["tag_ids"] = [(6, 0, tag.ids)]

    def _action_segment_add(self, jobs):
        self._action_add_tag(jobs)
        jobs._set_result(_("Added to segment %s", ", ".join(self.tag_ids.mapped("name"))))

    def _action_segment_remove(self, jobs):
        self._action_remove_tag(jobs)
        jobs._set_result(_("Removed from segment %s", ", ".join(self.tag_ids.mapped("name"))))
