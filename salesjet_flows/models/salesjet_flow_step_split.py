"""A/B split steps: contacts who reach a split go down one of its branches by
percentage, each branch being a chain of steps of its own; after a test period
the best branch (on opens, clicks or a goal, or picked by hand) wins and takes
everyone after.

A split may test on a share of its audience only (as Odoo's mass mailing A/B
test does): the others are held back, their jobs waiting at the split with a
reason, until the winner is known; then they go down the winner's branch.

Assignment is deterministic: a hash of (split step, run) picks a point in
[0, 100) and the branches' cumulative percentages decide, so a run retried
after a crash lands in the same branch, and a batch is assigned with no query
but one UPDATE.
"""
import hashlib

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..tools.timing import delta

# split tests ended by one batch of the scheduled action
SPLIT_BATCH_SIZE = 200

# held-back jobs put back in the queue by one statement (the scheduler then runs them in its own batches)
RELEASE_BATCH_SIZE = 2000

SPLIT_CRITERIA = [
    ("opens", "Opens"),
    ("clicks", "Clicks"),
    ("goal", "Goal reached"),
    ("manual", "Chosen by hand"),
]


def split_point(step_id, enrollment_id):
    """A stable point in [0, 100) for a run at a split."""
    digest = hashlib.sha256(f"{step_id}-{enrollment_id}".encode()).hexdigest()
    return int(digest[:8], 16) % 10000 / 100


def _ordered_steps(flow):
    return flow.with_context(active_test=False).step_ids.sorted(lambda s: (s.sequence, s.id))


def _split_layout(flow):
    """The branches of a flow's splits, by position: {step position: [branch values]} and
    {step position: (split position, branch position)} for the steps inside branches."""
    steps = _ordered_steps(flow)
    index = {step.id: j for j, step in enumerate(steps)}
    splits, members = {}, {}
    for j, step in enumerate(steps):
        if step.action_type == "split":
            branches = step.branch_ids.sorted(lambda b: (b.sequence, b.id))
            splits[j] = [{"name": b.name, "percentage": b.percentage, "sequence": b.sequence} for b in branches]
        if step.branch_id and step.branch_id.split_step_id.id in index:
            split = step.branch_id.split_step_id
            position = split.branch_ids.sorted(lambda b: (b.sequence, b.id)).ids.index(step.branch_id.id)
            members[j] = (index[split.id], position)
    return splits, members


def _rebuild_splits(flow, splits, members):
    """Give a copied or imported flow the branches of ``_split_layout``, then validate its splits."""
    if not splits:
        return
    steps = _ordered_steps(flow)
    Branch = flow.env["salesjet.flow.branch"].with_context(salesjet_split_rebuild=True)
    created = {}
    for j, values in splits.items():
        created[int(j)] = Branch.create([dict(v, split_step_id=steps[int(j)].id) for v in values])
    for j, (split_j, position) in members.items():
        branches = created.get(int(split_j))
        if branches and position < len(branches):
            steps[int(j)].branch_id = branches[position]
    steps.filtered(lambda s: s.action_type == "split")._check_split_branches()


class SalesjetFlowStepSplit(models.AbstractModel):
    _name = "salesjet.flow.step.split"
    _description = "Flow step: A/B split"

    branch_id = fields.Many2one(
        "salesjet.flow.branch", string="Branch", ondelete="cascade", index="btree_not_null", copy=False,
        domain="[('flow_id', '=', flow_id)]",
        help="Empty: the step is on the flow's main chain. Set: the step belongs to this branch of a split; "
             "the branch's steps run in their order after the split, then the run goes on with the "
             "main-chain step that follows the split.",
    )
    branch_ids = fields.One2many("salesjet.flow.branch", "split_step_id", string="Branches", copy=False)
    split_criterion = fields.Selection(
        SPLIT_CRITERIA, string="Winner on", default="clicks",
        help="How the winner is chosen when the test period ends: the share of the branch's contacts who "
             "opened or clicked an email of the branch's steps, or who meet the goal; or by hand (a Flows "
             "administrator picks the winning branch, the test period only says when to look).",
    )
    split_test_share = fields.Integer(
        string="Test share (%)", default=100,
        help="The share of the contacts reaching the split during the test who are sent down the branches. "
             "The others are held back: they wait at the split until the winner is known, then go down the "
             "winner's branch. 100: everyone takes part in the test.")
    split_goal_domain = fields.Char(
        string="Branch goal", default="[]",
        help="When the winner is chosen on a goal: the contacts who count as reaching it, e.g. those with a tag "
             "or a sale (a domain on contacts). It only measures the branches: unlike the flow's goal, it ends "
             "no run.")
    split_test_value = fields.Integer(string="Test period", default=3)
    split_test_unit = fields.Selection(
        [("hours", "Hours"), ("days", "Days")], string="Test period unit", default="days")
    split_started = fields.Datetime(
        string="Test started", copy=False, readonly=True, help="When the first contact reached the split.")
    split_winner_id = fields.Many2one(
        "salesjet.flow.branch", string="Winner", copy=False, readonly=True, ondelete="set null",
        help="Once set, every contact reaching the split goes down this branch.")
    split_ended = fields.Datetime(string="Test ended", copy=False, readonly=True)
    split_held_count = fields.Integer(
        string="Held back", compute="_compute_split_held_count",
        help="Contacts waiting at the split for the test's winner (outside the test share).")

    def _compute_split_held_count(self):
        splits = self.filtered(lambda s: s.action_type == "split" and isinstance(s.id, int))
        counts = {}
        if splits:
            counts = {step.id: count for step, count in self.env["salesjet.flow.job"]._read_group(
                [("step_id", "in", splits.ids), ("split_held", "=", True), ("state", "=", "pending")],
                ["step_id"], ["__count"])}
        for step in self:
            step.split_held_count = counts.get(step.id, 0)

    @api.constrains("action_type", "branch_ids", "split_criterion", "split_goal_domain", "split_test_value",
                    "split_test_share")
    def _check_split_settings(self):
        self._check_split_branches()

    def _check_split_branches(self):
        if self.env.context.get("salesjet_split_rebuild"):
            return  # a flow being copied or imported gets its branches after its steps, then is checked
        for step in self.filtered(lambda s: s.action_type == "split"):
            branches = step.branch_ids
            if len(branches) < 2:
                raise ValidationError(_("Split “%s”: give it at least two branches.", step.display_name))
            total = sum(branches.mapped("percentage"))
            if abs(total - 100) > 0.001:
                raise ValidationError(_("Split “%(step)s”: the branches' shares add up to %(total)s%%; "
                                        "make them add up to 100%%.", step=step.display_name, total=round(total, 2)))
            if not 1 <= step.split_test_share <= 100:
                raise ValidationError(_("Split “%s”: the test share is between 1 and 100%%.", step.display_name))
            if step.split_test_value < 1:
                raise ValidationError(_("Split “%s”: the test period lasts at least 1 hour or day.",
                                        step.display_name))
            if step.split_criterion == "goal":
                try:
                    self.env["salesjet.flow"]._probe_goal(step.split_goal_domain)
                except Exception as e:  # noqa: BLE001 - any mistake in the domain is the user's to fix
                    raise ValidationError(_("Split “%(step)s”: the goal is not a valid filter on contacts (%(error)s).",
                                            step=step.display_name, error=e)) from e
        for step in self.filtered("branch_id"):
            if step.action_type == "split":
                raise ValidationError(_("Step “%s”: a split cannot sit inside another split's branch.",
                                        step.display_name))
            if step.branch_id.flow_id != step.flow_id:
                raise ValidationError(_("Step “%s”: its branch belongs to another flow.", step.display_name))

    # ------------------------------------------------------------------
    # Engine
    # ------------------------------------------------------------------

    def _batch_apply_split(self, jobs, batch):
        # a test whose period is over ends before this batch goes down a branch: it goes down the winner's
        res = super()._batch_apply_split(jobs, batch)
        if jobs and self.action_type == "split":
            self._split_end_test(batch.now)
        return res

    def _action_split(self, jobs):
        now = fields.Datetime.now()
        branches = self.branch_ids.sorted(lambda b: (b.sequence, b.id))
        if not branches:
            jobs._set_result(_("The split has no branch: the run goes on."))
            return
        held_ids = []
        if self.split_winner_id:
            assignment = {job.id: self.split_winner_id for job in jobs}
        else:
            bounds, total = [], 0.0
            for branch in branches:
                total += branch.percentage
                bounds.append((total, branch))
            # the test share is the bottom of [0, 100): its points, stretched to [0, 100), pick a branch
            share = self.split_test_share or 100
            assignment = {}
            for job in jobs:
                point = split_point(self.id, job.enrollment_id.id)
                if point >= share:
                    held_ids.append(job.id)
                    continue
                point = point * 100 / share
                assignment[job.id] = next((b for bound, b in bounds if point < bound), branches[-1])
        if held_ids:
            jobs.browse(held_ids)._split_hold(self._split_hold_until(now))
            jobs = jobs.browse(list(assignment))
        self.env["salesjet.flow.job"]._update_by_ids(
            assignment, SQL("branch_id = v.b"), values=[("b", "int", [branch.id for branch in assignment.values()])])
        jobs.invalidate_recordset(["branch_id"])
        for branch in branches:
            assigned = jobs.filtered(lambda j, branch=branch: assignment[j.id] == branch)
            assigned._set_result(_("Branch %s", branch.name))
        if not self.split_started and not self.split_winner_id:
            self.env.cr.execute(SQL(
                "UPDATE salesjet_flow_step SET split_started = %s WHERE id = %s AND split_started IS NULL",
                now, self.id))
            self.invalidate_recordset(["split_started"])

    def _split_test_end(self):
        self.ensure_one()
        if not self.split_started:
            return False
        return self.split_started + delta(self.split_test_value, self.split_test_unit or "days")

    def _split_hold_until(self, now):
        """When a contact held back at this split now is looked at again: the end of the test, or one test
        period later when that is over (a winner picked by hand, or one the scheduled action is about to pick;
        either puts the held-back contacts back in the queue at once)."""
        self.ensure_one()
        period = delta(self.split_test_value or 1, self.split_test_unit or "days")
        end = (self.split_started or now) + period
        return end if end > now else now + period

    def _split_end_test(self, now=None, force=False):
        """End the test of these splits whose period is over (all with ``force``): keep the best branch
        (ties go to the first), say which won and by how much in the flow's chatter. A split whose winner is
        chosen by hand ends only with ``force``."""
        now = now or fields.Datetime.now()
        for step in self.filtered(lambda s: s.action_type == "split" and s.split_started and not s.split_winner_id):
            if not step.branch_ids:
                continue
            if not force and (step.split_criterion == "manual" or step._split_test_end() > now):
                continue
            branches = step.branch_ids.sorted(lambda b: (b.sequence, b.id))
            stats = branches._statistics()
            winner = max(branches, key=lambda b: (stats[b.id]["score"], -branches.ids.index(b.id)))
            step._split_declare_winner(winner, stats, now)

    def _split_declare_winner(self, winner, stats, now, picked_by=None):
        """Make ``winner`` this split's winning branch (unless one was already written), announce it in the
        flow's chatter and put the contacts held back at the split back in the queue, to go down it.

        :param picked_by: the user who picked the winner by hand, if one did
        :return: whether this call ended the test
        """
        self.ensure_one()
        # only the first to end the test announces it (the cron and a split batch may meet here)
        self.env.cr.execute(SQL(
            "UPDATE salesjet_flow_step SET split_winner_id = %s, split_ended = %s "
            "WHERE id = %s AND split_winner_id IS NULL RETURNING id",
            winner.id, now, self.id))
        ended = self.env.cr.fetchone()
        self.invalidate_recordset(["split_winner_id", "split_ended"])
        if not ended:
            return False
        branches = self.branch_ids.sorted(lambda b: (b.sequence, b.id))
        branches.invalidate_recordset(["is_winner"])
        others = ", ".join(f"{stats[b.id]['score']:.1f}% ({b.name})" for b in branches if b != winner)
        # plain names as arguments: Odoo's term extraction (babel) evaluates them
        score = f"{stats[winner.id]['score']:.1f}%"
        if picked_by:
            body = _(
                "Split “%(split)s”: %(user)s picked branch %(winner)s as the winner (%(score)s against %(others)s). "
                "Every contact reaching the split now goes down branch %(winner)s.",
                split=self.display_name, user=picked_by.name, winner=winner.name, score=score, others=others)
        else:
            criterion = dict(self._fields["split_criterion"]._description_selection(self.env))[self.split_criterion]
            body = _(
                "Split “%(split)s”: branch %(winner)s won on %(criterion)s: %(score)s against %(others)s. "
                "Every contact reaching the split now goes down branch %(winner)s.",
                split=self.display_name, winner=winner.name, criterion=criterion.lower(), score=score, others=others,
            )
        self.flow_id.message_post(body=body)
        self._split_release_held(now, RELEASE_BATCH_SIZE)
        return True

    def _split_release_held(self, now, limit):
        """Put at most ``limit`` contacts held back at these splits (all splits with a winner when empty) back
        in the queue now, set-wise: the scheduler then sends them down the winner's branch in its own bounded
        batches. Jobs that another worker holds are left for the scheduled action's next call.

        :return: how many were put back
        """
        self.env.flush_all()
        steps = SQL("AND j.step_id = ANY(%s)", self.ids) if self else SQL()
        self.env.cr.execute(SQL(
            """
            UPDATE salesjet_flow_job SET scheduled_date = %(now)s, result = %(why)s
             WHERE id IN (SELECT j.id FROM salesjet_flow_job j
                            JOIN salesjet_flow_step s ON s.id = j.step_id
                           WHERE j.split_held AND j.state = 'pending' AND j.scheduled_date > %(now)s
                             AND s.split_winner_id IS NOT NULL %(steps)s
                           ORDER BY j.id LIMIT %(limit)s
                             FOR UPDATE OF j SKIP LOCKED)
            """,
            now=now, steps=steps, limit=limit,
            why=_("The A/B test has a winner: the contact goes down the winning branch."),
        ))
        released = self.env.cr.rowcount
        self.env["salesjet.flow.job"].invalidate_model(["scheduled_date", "result"])
        if released:
            self.env["salesjet.flow.job"]._trigger_scheduler(now)
        return released

    @api.model
    def _split_held_to_release(self, now):
        """SQL selecting the held-back jobs whose split has a winner and that still wait."""
        return SQL(
            """
            SELECT j.id FROM salesjet_flow_job j JOIN salesjet_flow_step s ON s.id = j.step_id
             WHERE j.split_held AND j.state = 'pending' AND j.scheduled_date > %s AND s.split_winner_id IS NOT NULL
            """,
            now,
        )

    @api.model
    def _split_tests_over(self, now):
        """SQL selecting the active split steps whose test period is over at ``now`` and that have a
        branch to pick (the moments ``_split_test_end`` computes, with PostgreSQL intervals)."""
        return SQL(
            """
            SELECT s.id FROM salesjet_flow_step s
             WHERE s.action_type = 'split' AND s.active AND s.split_started IS NOT NULL
               AND s.split_winner_id IS NULL AND s.split_criterion IS DISTINCT FROM 'manual'
               AND s.split_started + CASE WHEN s.split_test_unit = 'hours'
                                          THEN make_interval(hours => COALESCE(s.split_test_value, 0))
                                          ELSE make_interval(days => COALESCE(s.split_test_value, 0)) END <= %s
               AND EXISTS (SELECT 1 FROM salesjet_flow_branch b WHERE b.split_step_id = s.id)
             ORDER BY s.id
            """,
            now,
        )

    @api.model
    def _cron_end_split_tests(self):
        """Scheduled action: end the A/B tests whose period is over and put the contacts held back at splits
        with a winner back in the queue, for one call's time budget."""
        def run_batch(limit):
            now = fields.Datetime.now()
            self.env.flush_all()
            self.env.cr.execute(SQL("%s LIMIT %s", self._split_tests_over(now), limit))
            splits = self.browse([row[0] for row in self.env.cr.fetchall()])
            splits._split_end_test(now)
            # what a split's winner left held back (more than one statement's share, or held by a worker then)
            released = self.browse()._split_release_held(now, RELEASE_BATCH_SIZE)
            return len(splits) + (limit if released == RELEASE_BATCH_SIZE else 0)

        def remaining():
            self.env.flush_all()
            now = fields.Datetime.now()
            count = self.env["salesjet.cron"]._count_capped
            return count(self._split_tests_over(now)) + count(self._split_held_to_release(now))

        return self.env["salesjet.cron"]._run_batches(run_batch, remaining, SPLIT_BATCH_SIZE, key="salesjet.split")

    def action_end_split_test(self):
        """End the test now and keep the best branch."""
        self.check_access("write")  # the winner is written with SQL
        self._split_end_test(force=True)
        return True

    def _split_pick_winner(self, branch):
        """End this split's test with ``branch`` as its winner, picked by the current user."""
        self.ensure_one()
        self.check_access("write")  # the winner is written with SQL
        if branch.split_step_id != self:
            raise ValidationError(_("Branch “%(branch)s” is not a branch of split “%(split)s”: pick one of its own.",
                                    branch=branch.display_name, split=self.display_name))
        if self.split_winner_id:
            raise ValidationError(_("Split “%(split)s” already has a winner: branch %(winner)s.",
                                    split=self.display_name, winner=self.split_winner_id.name))
        stats = self.branch_ids._statistics()
        self._split_declare_winner(branch, stats, fields.Datetime.now(), picked_by=self.env.user)
        return True
