from odoo import models


class SalesjetFlowStepAction(models.AbstractModel):
    """The hooks that the action type families of a step extend.

    ``salesjet.flow.step`` inherits one mixin per family of action types (``salesjet.flow.step.email``,
    ``.sms``, ``.contact``...) and this one last: each family's override calls ``super()`` and the chain ends
    here. A new family is one mixin file that extends what it needs of these, plus its selection entry in
    ``ACTION_TYPES``; the per-type methods are found by name: ``_action_<type>(jobs)`` runs it,
    ``_check_action_<type>()`` validates its settings, ``_preview_<type>(partner, data)`` describes it in a test
    run, ``_display_details_<type>()`` completes an untitled step's name.
    """
    _name = "salesjet.flow.step.action"
    _description = "Flow step: action type hooks"

    def _settings_fields(self):
        """The fields whose change re-checks a step's settings in ``_check_settings``: the common ones here,
        each action type adds the fields its ``_check_action_<type>()`` reads (one dispatcher for every type)."""
        return ["action_type", "tag_ids", "timing", "run_at", "delay_value", "repeat", "repeat_interval"]

    def _tag_action_types(self):
        """The action types that add or remove the step's ``tag_ids`` (their title shows the tags)."""
        return ("add_tag", "remove_tag")

    def _batch_apply_split(self, jobs, batch):
        """Batch stage 6 (see ``salesjet.flow.job._execute``): split steps end their test when it is over
        before sending ``jobs`` down a branch (``salesjet.flow.step.split``)."""
