from odoo import _, api, fields, models
from odoo.tools import SQL

from ..tools.goal import parse_goal


class SalesjetFlowBranch(models.Model):
    _name = "salesjet.flow.branch"
    _description = "Flow Split Branch"
    _order = "split_step_id, sequence, id"

    split_step_id = fields.Many2one(
        "salesjet.flow.step", string="Split step", required=True, ondelete="cascade", index=True)
    flow_id = fields.Many2one(related="split_step_id.flow_id", store=True, index=True)
    sequence = fields.Integer(default=10)
    name = fields.Char(required=True, help="A short name, e.g. A or B.")
    percentage = fields.Float(
        string="Share (%)", required=True, default=50,
        help="The share of the contacts reaching the split who go down this branch; the shares add up to 100.")
    step_ids = fields.One2many("salesjet.flow.step", "branch_id", string="Steps")
    is_winner = fields.Boolean(compute="_compute_statistics", string="Winner")
    sent_count = fields.Integer(string="Contacts", compute="_compute_statistics")
    open_count = fields.Integer(string="Opened", compute="_compute_statistics")
    click_count = fields.Integer(string="Clicked", compute="_compute_statistics")
    goal_count = fields.Integer(string="Goal reached", compute="_compute_statistics")
    score = fields.Float(string="Score (%)", compute="_compute_statistics", digits=(16, 1),
                         help="The split's winner criterion, as a share of the contacts sent down the branch.")

    _sql_constraints = [
        ("percentage_range", "CHECK(percentage > 0 AND percentage <= 100)",
         "A branch's share is more than 0 and at most 100 percent."),
    ]

    @api.depends("name", "split_step_id")
    def _compute_display_name(self):
        for branch in self:
            branch.display_name = _("%(split)s › %(name)s", split=branch.split_step_id.display_name,
                                    name=branch.name or "")

    def _compute_statistics(self):
        stats = self._statistics()
        for branch in self:
            data = stats.get(branch.id, {})
            branch.sent_count = data.get("sent", 0)
            branch.open_count = data.get("opens", 0)
            branch.click_count = data.get("clicks", 0)
            branch.goal_count = data.get("goal", 0)
            branch.score = data.get("score", 0.0)
            branch.is_winner = branch.split_step_id.split_winner_id == branch

    def _statistics(self):
        """Per branch: contacts sent (done split jobs), contacts who opened / clicked an email of the
        branch's steps (their mailing.trace), contacts meeting the split's goal, and the score.

        Three queries for any number of branches, plus one count per branch with a goal.
        """
        ids = [bid for bid in self.ids if isinstance(bid, int)]
        if not ids:
            return {}
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(SQL(
            """
            SELECT branch_id, array_agg(partner_id) FROM salesjet_flow_job
             WHERE branch_id = ANY(%s) AND state = 'done' GROUP BY branch_id
            """, ids))
        partners = dict(cr.fetchall())
        cr.execute(SQL(
            """
            SELECT s.branch_id,
                   count(DISTINCT j.enrollment_id) FILTER (
                       WHERE t.open_datetime IS NOT NULL OR t.links_click_datetime IS NOT NULL
                          OR t.trace_status IN ('open', 'reply')),
                   count(DISTINCT j.enrollment_id) FILTER (WHERE t.links_click_datetime IS NOT NULL)
              FROM salesjet_flow_job j
              JOIN salesjet_flow_step s ON s.id = j.step_id
              JOIN mailing_trace t ON t.id = j.mailing_trace_id
             WHERE s.branch_id = ANY(%s)
             GROUP BY s.branch_id
            """, ids))
        mail = {row[0]: row[1:] for row in cr.fetchall()}
        result = {}
        for branch in self.browse(ids):
            split = branch.split_step_id
            partner_ids = list(set(partners.get(branch.id) or []))
            goal = 0
            if split.split_criterion == "goal":
                # a split's goal is evaluated as a flow's goal is (tools/goal.py, salesjet.flow._goal_reached_by)
                goal = len(self.env["salesjet.flow"]._goal_reached_by(
                    parse_goal(split.split_goal_domain) if split.split_goal_domain else None, partner_ids))
            sent = len(partners.get(branch.id) or [])
            opens, clicks = mail.get(branch.id, (0, 0))
            # a winner picked by hand is shown the clicks' score
            metric = {"opens": opens, "goal": goal}.get(split.split_criterion, clicks)
            result[branch.id] = {"sent": sent, "opens": opens, "clicks": clicks, "goal": goal,
                                 "score": round(100.0 * metric / sent, 1) if sent else 0.0}
        return result

    def action_pick_winner(self):
        """Make this branch its split's winner now: the contacts held back at the split go down it."""
        self.ensure_one()
        return self.split_step_id._split_pick_winner(self)

    @api.constrains("percentage", "split_step_id")
    def _check_split_shares(self):
        self.split_step_id._check_split_branches()
