from odoo import _, models
from odoo.exceptions import ValidationError

from ..tools.preview import preview_rows


class SalesjetFlowStepSegment(models.AbstractModel):
    """Segments: the tag steps under the name marketers use (a segment is a coloured contact tag, picked or
    created in the step's tag field); they run the tag steps' code."""
    _name = "salesjet.flow.step.segment"
    _description = "Flow step: segments"

    def _tag_action_types(self):
        return super()._tag_action_types() + ("segment_add", "segment_remove")

    def _check_action_segment_add(self):
        if not self.tag_ids:
            raise ValidationError(_("Step “%s”: choose the segment, or type the name of a new one.",
                                    self.display_name))

    _check_action_segment_remove = _check_action_segment_add

    def _action_segment_add(self, jobs):
        self._action_add_tag(jobs)
        jobs._set_result(_("Added to segment %s", ", ".join(self.tag_ids.mapped("name"))))

    def _action_segment_remove(self, jobs):
        self._action_remove_tag(jobs)
        jobs._set_result(_("Removed from segment %s", ", ".join(self.tag_ids.mapped("name"))))

    def _preview_segment_add(self, partner, data):
        return preview_rows([(_("Added to segment"), ", ".join(self.tag_ids.mapped("name")))])

    def _preview_segment_remove(self, partner, data):
        return preview_rows([(_("Removed from segment"), ", ".join(self.tag_ids.mapped("name")))])
