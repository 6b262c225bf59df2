"""The flow canvas: what the diagram's builder needs of a step.

The action picker groups the action types by family (``_action_family``, found by
type name like ``_diagram_icon``, bridges extend it), each with its icon and a one-line
help (``_action_help``). New steps are placed between their neighbours
(``_canvas_insert_sequence``), dragged steps are renumbered in their chain
(``canvas_move``), removal goes through the safe-edit guard (``action_canvas_remove``),
and every number on a step card opens what it counts (``action_open_jobs``,
``action_open_contacts``).
"""
from odoo import _, api, models
from odoo.exceptions import UserError
from odoo.tools import LazyTranslate

_lt = LazyTranslate(__name__)

# The picker's families, in their order; a type of no known family goes to "other".
ACTION_FAMILIES = [
    ("messages", _lt("Messaging")),
    ("contact", _lt("Contact and lists")),
    ("crm", _lt("CRM")),
    ("products", _lt("Products and offers")),
    ("flows", _lt("Flow control")),
    ("integrations", _lt("Integrations")),
    ("loyalty", _lt("Loyalty")),
    ("other", _lt("Other actions")),
]

ACTION_TYPE_FAMILIES = {
    "email": "messages", "sms": "messages", "chain_start": "messages", "chain_message": "messages",
    "call": "messages",
    "add_tag": "contact", "remove_tag": "contact", "list_add": "contact", "list_remove": "contact",
    "segment_add": "contact", "segment_remove": "contact", "note": "contact",
    "notify_user": "crm",
    "product_grant": "products", "product_revoke": "products", "offer_create": "products",
    "offer_remove": "products",
    "flow_start": "flows", "flow_stop": "flows", "split": "flows",
    "webhook": "integrations", "server_action": "integrations",
}

ACTION_TYPE_HELP = {
    "add_tag": _lt("Tag the contact, e.g. to segment or to filter later."),
    "remove_tag": _lt("Take tags off the contact."),
    "email": _lt("Send an email, tracked for opens and clicks."),
    "sms": _lt("Send a text message to the contact's mobile."),
    "note": _lt("Log a note on the contact's chatter."),
    "notify_user": _lt("Tell a colleague: a message or an activity to do."),
    "list_add": _lt("Subscribe the contact to a mailing list."),
    "list_remove": _lt("Unsubscribe the contact from a mailing list."),
    "flow_start": _lt("Enrol the contact in another flow."),
    "flow_stop": _lt("Stop the contact's run of another flow."),
    "call": _lt("Place an automated phone call with a script."),
    "webhook": _lt("Send the contact's data to another application."),
    "segment_add": _lt("Put the contact in a segment."),
    "segment_remove": _lt("Take the contact out of a segment."),
    "chain_start": _lt("Start a chain of messages that waits for answers."),
    "chain_message": _lt("One message of a chain."),
    "product_grant": _lt("Give the contact access to a product."),
    "product_revoke": _lt("Take back the contact's access to a product."),
    "offer_create": _lt("Give the contact a time-limited special offer."),
    "offer_remove": _lt("End the contact's special offer."),
    "split": _lt("Test variants: contacts go down branches by share, the best branch wins."),
    "server_action": _lt("Run an Odoo server action on the contact or the lead."),
    "lead_assign": _lt("Give the run's lead a salesperson, or a sales team whose members take leads in turn."),
    "lead_stage": _lt("Move the run's lead to a stage."),
    "lead_tag_add": _lt("Add tags to the run's lead."),
    "lead_tag_remove": _lt("Take tags off the run's lead."),
    "lead_lost": _lt("Mark the run's lead lost, with a reason."),
    "lead_won": _lt("Mark the run's lead won."),
    "lead_priority": _lt("Set the priority of the run's lead."),
    "lead_activity": _lt("Schedule an activity on the run's lead for its salesperson."),
    "lead_convert": _lt("Convert the run's lead to an opportunity."),
}

# the numbers of a step card that open contacts, and the trace filter of each (email steps)
CONTACT_KINDS = {
    "sent": [("sent_datetime", "!=", False)],
    "opened": ["|", "|", ("trace_status", "in", ("open", "reply")), ("open_datetime", "!=", False),
               ("links_click_datetime", "!=", False)],
    "clicked": [("links_click_datetime", "!=", False)],
}

# gap between renumbered steps, so that a step can later be put between two without renumbering
SEQUENCE_GAP = 10


class SalesjetFlowStepCanvas(models.AbstractModel):
    _name = "salesjet.flow.step.canvas"
    _description = "Flow step: canvas builder"

    # ---- Action picker ----
    def _action_family(self):
        """The picker family key of this step's action type (see ``ACTION_FAMILIES``); bridges add theirs.

        Lead action types (``lead_*``) are CRM actions; a type nobody placed is in "other"."""
        family = ACTION_TYPE_FAMILIES.get(self.action_type)
        if not family and (self.action_type or "").startswith(("lead_", "crm_")):
            family = "crm"
        return family or "other"

    def _action_help(self):
        """One line saying what this step's action type does, for the picker; bridges add theirs."""
        text = ACTION_TYPE_HELP.get(self.action_type)
        return str(text) if text else ""

    def _action_families(self):
        """The picker's families as (key, label); a bridge with a family of its own extends the list."""
        return [(key, str(label)) for key, label in ACTION_FAMILIES]

    @api.model
    def canvas_action_picker(self):
        """The action types grouped for the canvas' picker, in the families' order:
        ``[{"key", "label", "types": [{"type", "label", "icon", "help"}]}]``; empty families are left out."""
        groups = {key: {"key": key, "label": label, "types": []} for key, label in self._action_families()}
        for value, label in self._fields["action_type"]._description_selection(self.env):
            probe = self.new({"action_type": value})
            family = probe._action_family()
            group = groups.get(family) or groups.setdefault(
                "other", {"key": "other", "label": _("Other actions"), "types": []})
            group["types"].append({"type": value, "label": label, "icon": probe._diagram_icon(),
                                   "help": probe._action_help()})
        return [group for group in groups.values() if group["types"]]

    # ---- Placing and moving ----
    @api.model
    def _canvas_chain(self, flow, branch):
        """The steps of one chain of a flow (its main chain, or a branch), in their order."""
        return flow.with_context(active_test=False).step_ids.filtered(
            lambda s: s.branch_id == branch).sorted(lambda s: (s.sequence, s.id))

    @api.model
    def canvas_insert_sequence(self, flow_id, after_step_id=False, branch_id=False):
        """The sequence a new step gets to sit right after ``after_step_id`` (first of its chain when empty),
        in the main chain or in branch ``branch_id``. Renumbers the chain when there is no room between the
        two neighbours (the steps keep their order and their waiting contacts)."""
        flow = self.env["salesjet.flow"].browse(flow_id)
        flow.check_access("write")
        branch = self.env["salesjet.flow.branch"].browse(branch_id)
        chain = self._canvas_chain(flow, branch)
        after = self.browse(after_step_id) & chain
        index = chain.ids.index(after.id) + 1 if after else 0
        before_seq = chain[index - 1].sequence if index else None
        next_seq = chain[index].sequence if index < len(chain) else None
        if before_seq is None and next_seq is None:
            return SEQUENCE_GAP
        if next_seq is None:
            return before_seq + SEQUENCE_GAP
        if before_seq is None and next_seq > 1:
            return next_seq - 1 if next_seq <= SEQUENCE_GAP else next_seq - SEQUENCE_GAP
        if before_seq is not None and next_seq - before_seq > 1:
            return (before_seq + next_seq) // 2
        # no room: renumber the chain with gaps, leaving one at the insertion point
        self._canvas_renumber(chain[:index] + self.browse([False]) + chain[index:])
        return SEQUENCE_GAP * (index + 1)

    def _canvas_renumber(self, ordered):
        """Give ``ordered`` (steps, with one empty slot for a step to come) the sequences 10, 20, 30...,
        writing only the steps whose sequence changes."""
        for position, step in enumerate(ordered, start=1):
            if step and step.sequence != SEQUENCE_GAP * position:
                step.sequence = SEQUENCE_GAP * position

    @api.model
    def canvas_move(self, step_id, target_step_id, after=True):
        """Move step ``step_id`` right after (or before) ``target_step_id`` in the target's chain (a drag
        and drop on the canvas). A move keeps the step's waiting contacts, as a sequence change does
        everywhere (safe edit); a split cannot go inside a branch (the split's own check says so)."""
        step = self.browse(step_id).exists()
        target = self.browse(target_step_id).exists()
        if not step or not target or step == target:
            return False
        if step.flow_id != target.flow_id:
            raise UserError(_("A step can only be moved within its own flow."))
        step.check_access("write")
        chain = self._canvas_chain(step.flow_id, target.branch_id) - step
        index = chain.ids.index(target.id) + (1 if after else 0)
        if step.branch_id != target.branch_id:
            step.branch_id = target.branch_id
        self._canvas_renumber(chain[:index] + step + chain[index:])
        return True

    # ---- Removing ----
    def action_canvas_remove(self):
        """Remove this step from the canvas through the safe-edit guard: a step contacts wait on (or a split
        whose branches hold waiting contacts) opens the "Remove step" wizard, as the step form does; any
        other step is deleted (its log with it)."""
        self.ensure_one()
        inner = self.branch_ids.step_ids if self.action_type == "split" else self.browse()
        if self.pending_job_count or any(inner.mapped("pending_job_count")):
            return self.action_open_remove_wizard()
        self.unlink()
        return False

    # ---- Numbers that open what they count ----
    def action_open_jobs(self, state=None):
        """The jobs of this step, of one state (pending, done, skipped, failed) when given."""
        self.ensure_one()
        action = self.action_view_jobs()
        if state:
            states = dict(self.env["salesjet.flow.job"]._fields["state"]._description_selection(self.env))
            if state not in states:
                raise UserError(_("Unknown job state “%s”.", state))
            action["domain"] = [("step_id", "=", self.id), ("state", "=", state)]
            action["name"] = action["display_name"] = _("%(step)s: %(state)s", step=self.display_name,
                                                        state=states[state])
        return action

    def action_open_contacts(self, kind):
        """The contacts this message step sent to (``sent``), who opened it (``opened``, emails) or
        clicked a link of it (``clicked``). An SMS click is not tied to a contact: its clicks open."""
        self.ensure_one()
        if kind not in CONTACT_KINDS:
            raise UserError(_("Unknown figure “%s”: choose sent, opened or clicked.", kind))
        if self.action_type == "sms":
            if kind == "clicked":
                return {
                    "type": "ir.actions.act_window", "name": _("Clicks of %s", self.display_name),
                    "res_model": "link.tracker.click", "view_mode": "list", "views": [(False, "list")],
                    "domain": [("link_id.mass_mailing_id", "=", self.mailing_id.id or 0)],
                    "context": {"create": False},
                }
            job_domain = [("step_id", "=", self.id), ("state", "=", "done")]
        else:
            job_domain = [("step_id", "=", self.id), ("mailing_trace_id", "any", CONTACT_KINDS[kind])]
        # the figures are read from the step's own mailing: its traces may be hidden to the user
        partners = self.env["salesjet.flow.job"].sudo().search(job_domain).partner_id
        labels = {"sent": _("Sent to"), "opened": _("Opened by"), "clicked": _("Clicked by")}
        return {
            "type": "ir.actions.act_window",
            "name": _("%(step)s: %(figure)s", step=self.display_name, figure=labels[kind]),
            "res_model": "res.partner", "view_mode": "list,form",
            "views": [(False, "list"), (False, "form")],
            "domain": [("id", "in", partners.ids)],
            "context": {"create": False},
        }
