class JobBatch:
    """One batch of due jobs on its way through the stages of ``salesjet.flow.job._execute``.

    - ``jobs``: the jobs the batch runs and ends (a stage that postpones a job takes it out);
    - ``now``: the batch's clock;
    - ``outcomes``: ``{job id: (state, result, res_model, res_id)}`` gathered by the stages and the
      steps' executors, written with one statement at the end (a job without one succeeded).

    The jobs carry the batch in their context (``salesjet_batch``), so that the executors' calls to
    ``_set_result``, ``_mark_skipped``... on them record outcomes here while the steps run (``open``);
    outside that, those methods write to the jobs themselves.
    """
    __slots__ = ("jobs", "now", "open", "outcomes")

    def __init__(self, jobs, now):
        self.jobs = jobs.with_context(salesjet_batch=self)
        self.now = now
        self.outcomes = {}
        self.open = False

    def pending(self):
        """The jobs of the batch that no stage has given an outcome yet."""
        return self.jobs.filtered(lambda job: job.id not in self.outcomes)
