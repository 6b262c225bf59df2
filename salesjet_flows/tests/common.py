from contextlib import contextmanager
from datetime import datetime
from unittest.mock import patch

from freezegun import freeze_time

from odoo import Command
from odoo.sql_db import Cursor
from odoo.tests import TransactionCase
from odoo.tools import SQL

T0 = datetime(2026, 3, 2, 9, 0, 0)  # a Monday morning


@contextmanager
def spying(on_statement):
    """Within it, ``on_statement(cr, code, params)`` is called for every statement Odoo's cursors send, just
    before it runs (an ``odoo.tools.SQL`` as its code and parameters)."""
    execute = Cursor.execute

    def spy(cr, query, params=None, log_exceptions=True):
        code, args = (query.code, query.params) if isinstance(query, SQL) else (query, params)
        on_statement(cr, code, args)
        return execute(cr, query, params, log_exceptions)

    with patch.object(Cursor, "execute", spy):
        yield


@contextmanager
def sent_statements():
    """Within it, every statement Odoo's cursors send: yields the list the (text, parameters) of each are added
    to, in order (an ``odoo.tools.SQL`` as its code and parameters)."""
    sent = []
    with spying(lambda _cr, code, params: sent.append((code, params))):
        yield sent


@contextmanager
def planned(*markers):
    """Within it, the plan of each statement whose text contains one of ``markers``, explained on its own cursor
    just before it runs, so under the settings the code gave the transaction: yields the list of (text, plan)."""
    plans = []
    explain = Cursor.execute  # the spy's own statements are not spied on

    def on_statement(cr, code, params):
        if any(marker in code for marker in markers):
            explain(cr, f"EXPLAIN {code}", params)
            plans.append((code, "\n".join(row[0] for row in cr.fetchall())))

    with spying(on_statement):
        yield plans


def keyed_columns(cr, table):
    """The columns of ``table`` that have a foreign key."""
    cr.execute("""
        SELECT a.attname FROM pg_constraint c
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         WHERE c.conrelid = %s::regclass AND c.contype = 'f'
    """, [table])
    return {row[0] for row in cr.fetchall()}


def restore_keys(env, table, model, references):
    """Give ``table`` foreign keys that an earlier version had, as Odoo created and reflected them (a database
    an update script starts from). ``references``: {column: ``SQL("REFERENCES … ON DELETE …")``}.

    :return: the keys' names
    """
    names = {column: f"{table}_{column}_fkey" for column in references}
    env.cr.execute(SQL("ALTER TABLE %s %s", SQL.identifier(table), SQL(", ").join(
        SQL("ADD CONSTRAINT %s FOREIGN KEY (%s) %s", SQL.identifier(names[column]), SQL.identifier(column), reference)
        for column, reference in references.items())))
    env["ir.model.constraint"].create([{
        "name": name, "type": "f", "model": env["ir.model"]._get_id(model),
        "module": env.ref("base.module_salesjet_flows").id} for name in names.values()])
    return list(names.values())


class factory(classmethod):
    """A factory that works on the class and on a test.

    Called on the class (``cls.make_flow`` in ``setUpClass``) it uses the class environment (superuser
    fixtures); called on a test (``self.make_flow``) it uses the test's ``self.env``, so that under
    ``@users('user_flows_admin')`` the flow is created by that person, with their rights and rules.
    """

    def __get__(self, instance, owner=None):
        if instance is None:
            return super().__get__(instance, owner)
        return self.__func__.__get__(instance, owner)


class SalesjetPersonas:
    """The people who use Flows, created once per test class (as mass_mailing's ``MassMailCommon`` does).

    - ``user_marketing``: a marketer (Email Marketing user, Flows user: sees flows, configures nothing);
    - ``user_flows``: a Flows user (reads flows, runs, jobs and events);
    - ``user_flows_admin``: a Flows administrator who is not a Settings administrator: creates, configures and
      launches flows; the placeholder language applies to the texts they write. They are a Mail Template
      Editor, as a marketer who writes emails is: with Odoo's "Restrict Template Rendering" (on by default)
      others may use plain field placeholders only, and the shipped templates use more (test_templates_sandbox);
    - ``user_sales``: a salesperson (Sales / User: Own Documents Only);
    - ``user_portal``: a portal customer.
    Run a test as one of them with ``@users('user_flows_admin')``: ``self.env`` is then theirs.
    """

    PERSONAS = {
        "user_marketing": ("Martha Marketing", "base.group_user,base.group_partner_manager,"
                           "mass_mailing.group_mass_mailing_user,salesjet_flows.group_salesjet_user"),
        "user_flows": ("Felix Flows", "base.group_user,salesjet_flows.group_salesjet_user"),
        "user_flows_admin": ("Ada Flows-Admin", "base.group_user,base.group_partner_manager,"
                             "mass_mailing.group_mass_mailing_user,mail.group_mail_template_editor,"
                             "salesjet_flows.group_salesjet_manager"),
        "user_sales": ("Sam Sales", "base.group_user,sales_team.group_sale_salesman"),
        "user_portal": ("Paula Portal", "base.group_portal"),
    }

    @classmethod
    def setUpPersonas(cls):
        """Create the personas as ``mail_new_test_user`` does (same context and values), in one ``create``:
        every test class has them, and five separate calls took 1.5 s per class against 0.9 s for one
        create (measured on the shared 2-core machine; the res.users hooks of a dozen modules)."""
        Users = cls.env["res.users"].with_context(
            mail_create_nolog=True, mail_create_nosubscribe=True, mail_notrack=True, no_reset_password=True)
        users = Users.create([{
            "login": login, "name": name, "email": f"{login}@example.com", "password": login + "x" * 8,
            "company_id": cls.env.company.id, "company_ids": [Command.set(cls.env.company.ids)],
            "groups_id": [Command.set([cls.env.ref(group).id for group in groups.split(",")])],
        } for login, (name, groups) in cls.PERSONAS.items()])
        for login, user in zip(cls.PERSONAS, users, strict=True):
            setattr(cls, login, user)
        # staff and test accounts, not clients: drop the events their creation posted (a portal sign-up)
        cls.env["salesjet.event"].sudo().search([("partner_id", "in", users.partner_id.ids)]).unlink()


def align_progress_sequence(cr):
    """Bring the sequence of ``ir.cron.progress`` back to its last row. A test database rolls back every test's
    progress rows but not the ids their sequence handed out: a check of the scheduler would then count a call
    that it cannot see as started (``salesjet_flow_job.call_coming``) and set a trigger for every job. A
    production database commits those rows as soon as a call starts."""
    cr.execute("SELECT setval('ir_cron_progress_id_seq', COALESCE(max(id), 1), max(id) IS NOT NULL)"
               "  FROM ir_cron_progress")


class SalesjetCase(TransactionCase, SalesjetPersonas):
    """Base class: personas, factories for flows, steps and contacts, and a scheduler driver.

    Tests of what a person configures run as that person (``@users('user_flows_admin')``); the engine
    (``run_scheduler``, ``self.Job``) runs as the cron does, as superuser.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.setUpPersonas()
        # keep the demo flows (and any other) out of the way of these tests
        cls.env["salesjet.flow"].search([]).action_archive()
        Tag = cls.env["res.partner.category"]
        cls.tag_a = Tag.create({"name": "SJ test A"})
        cls.tag_b = Tag.create({"name": "SJ test B"})
        cls.tag_c = Tag.create({"name": "SJ test C"})
        cls.Job = cls.env["salesjet.flow.job"]
        cls.Event = cls.env["salesjet.event"]

    def setUp(self):
        super().setUp()
        align_progress_sequence(self.env.cr)

    # -- factories ---------------------------------------------------------

    @classmethod
    def make_partners(cls, count, prefix="SJ contact", **vals):
        return cls.env["res.partner"].create([
            {"name": f"{prefix} {i}", "email": f"{prefix.replace(' ', '.').lower()}.{i}@example.com", **vals}
            for i in range(count)
        ])

    @factory
    def make_flow(cls, steps, triggers=None, **vals):
        """Create a flow; ``steps`` is a list of step value dicts, in order."""
        flow = cls.env["salesjet.flow"].create({"name": "Test flow", "state": "running", **vals})
        cls.env["salesjet.flow.step"].create([
            {"flow_id": flow.id, "sequence": (index + 1) * 10, **step} for index, step in enumerate(steps)
        ])
        for trigger in triggers or [{"trigger_type": "api", "event_code": "sj_test"}]:
            cls.env["salesjet.flow.trigger"].create({"flow_id": flow.id, **trigger})
        return flow

    @staticmethod
    def tag_step(tags, action="add_tag", **vals):
        return {"action_type": action, "tag_ids": [(6, 0, tags.ids)], **vals}

    # -- driving time and the scheduler -------------------------------------

    @contextmanager
    def at(self, when):
        with freeze_time(when):
            yield

    def run_scheduler(self, max_batches=1000):
        """Run due jobs batch by batch, as the cron does, until none is due."""
        total = 0
        for _i in range(max_batches):
            count = self.Job._process_due_batch()
            if not count:
                return total
            total += count
        raise AssertionError("the scheduler did not drain the due jobs")

    def jobs_of(self, flow, partner=None):
        domain = [("flow_id", "=", flow.id)]
        if partner:
            domain.append(("partner_id", "=", partner.id))
        return self.Job.search(domain, order="id")

    def assertTags(self, partner, present=(), absent=()):
        partner.invalidate_recordset(["category_id"])
        for tag in present:
            self.assertIn(tag, partner.category_id, f"{partner.name} should have tag {tag.name}")
        for tag in absent:
            self.assertNotIn(tag, partner.category_id, f"{partner.name} should not have tag {tag.name}")
