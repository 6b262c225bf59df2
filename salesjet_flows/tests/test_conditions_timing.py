from datetime import date, datetime, timedelta

from odoo import http
from odoo.exceptions import ValidationError
from odoo.tests import HttpCase, users
from odoo.tools import SQL

from .common import T0, SalesjetCase

# T0 is Monday 2 March 2026, 09:00 UTC: Europe/Madrid is then UTC+1 (winter time),
# America/New_York UTC-5, Asia/Tokyo UTC+9.
FRIDAY_18_MADRID = datetime(2026, 3, 6, 17, 0)
MONDAY_9_MADRID = datetime(2026, 3, 9, 8, 0)


class ConditionsTimingCase(SalesjetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.partner_id.tz = "Europe/Madrid"
        # a step to hang condition lines on; its flow listens to no event of these tests
        cls.flow = cls.make_flow([cls.tag_step(cls.tag_c)], triggers=[{"trigger_type": "segment"}])
        cls.step = cls.flow.step_ids

    def lines(self, *vals_list, step=None):
        step = (step or self.step).with_env(self.env)
        step.condition_ids.unlink()
        return self.env["salesjet.flow.condition"].create([{"step_id": step.id, **vals} for vals in vals_list])

    def set_create_date(self, partners, moment):
        self.env.flush_all()
        self.env.cr.execute(SQL("UPDATE res_partner SET create_date = %s WHERE id = ANY(%s)", moment, partners.ids))
        partners.invalidate_recordset(["create_date"])

    def field(self, name):
        return self.env["ir.model.fields"]._get("res.partner", name)


class TestDateAndTimeConditions(ConditionsTimingCase):

    def test_date_added_on_before_after_and_days_back(self):
        old, feb_28, recent = partners = self.make_partners(3, prefix="SJ added")
        self.set_create_date(old, datetime(2025, 6, 1, 12, 0))
        # 23:30 UTC on 27 February is already 28 February in Madrid, the company's time zone
        self.set_create_date(feb_28, datetime(2026, 2, 27, 23, 30))
        self.set_create_date(recent, datetime(2026, 3, 1, 10, 0))
        cases = [
            ({"date_operator": "on", "date_value": "2026-02-28"}, feb_28),
            ({"date_operator": "before", "date_value": "2026-02-28"}, old),
            ({"date_operator": "after", "date_value": "2026-02-28"}, recent),
            ({"date_operator": "last_days", "days_value": 7}, feb_28 | recent),
            ({"date_operator": "older_days", "days_value": 7}, old),
        ]
        with self.at(T0):
            for vals, expected in cases:
                with self.subTest(**vals):
                    line = self.lines({"condition_type": "date_added", **vals})
                    self.assertEqual(line._filter(partners), expected)
            line.negate = True
            self.assertEqual(line._filter(partners), feb_28 | recent, "NOT more than 7 days ago")

    def test_last_website_form_uses_the_latest_form_lead_of_the_contact(self):
        Lead = self.env["crm.lead"]
        website = self.env.ref("utm.utm_medium_website")
        phone = self.env["utm.medium"].create({"name": "SJ phone"})
        early, late, by_email, phoned, never = partners = self.make_partners(5, prefix="SJ form")
        leads = Lead.create([
            {"name": "early form", "partner_id": early.id, "medium_id": website.id},
            {"name": "late form 1", "partner_id": late.id, "medium_id": website.id},
            {"name": "late form 2", "partner_id": late.id, "medium_id": website.id, "active": False},
            # a visitor who was not logged in: only the address links the form to the contact
            {"name": "anonymous form", "email_from": by_email.email.upper(), "medium_id": website.id},
            {"name": "a call", "partner_id": phoned.id, "medium_id": phone.id},
        ])
        dates = [datetime(2026, 1, 10, 10), datetime(2026, 1, 5, 10), datetime(2026, 2, 27, 10),
                 datetime(2026, 2, 20, 10), datetime(2026, 3, 1, 10)]
        self.env.flush_all()
        for lead, moment in zip(leads, dates, strict=True):
            self.env.cr.execute(SQL("UPDATE crm_lead SET create_date = %s WHERE id = %s", moment, lead.id))
        cases = [
            ({"date_operator": "before", "date_value": "2026-02-01"}, early),
            ({"date_operator": "after", "date_value": "2026-02-01"}, late | by_email),
            ({"date_operator": "on", "date_value": "2026-02-27"}, late),
            ({"date_operator": "on", "date_value": "2026-01-05"}, self.env["res.partner"],
             "not the latest form of that contact"),
            ({"date_operator": "last_days", "days_value": 5}, late),
            ({"date_operator": "older_days", "days_value": 5}, early | by_email),
        ]
        with self.at(T0):
            for vals, expected, *why in cases:
                with self.subTest(**vals):
                    line = self.lines({"condition_type": "last_form", **vals})
                    self.assertEqual(line._filter(partners), expected, why)
            line.negate = True
            self.assertEqual(line._filter(partners), late | phoned | never, "NOT: also contacts who never sent one")

    def test_current_date_lets_everyone_or_no_one_through(self):
        partners = self.make_partners(2, prefix="SJ today")
        line = self.lines({"condition_type": "current_date", "date_operator": "on", "date_value": "2026-03-02"})
        with self.at(T0):
            self.assertEqual(line._filter(partners), partners)
            line.date_operator = "after"
            self.assertFalse(line._filter(partners))
            line.date_operator = "before"
            self.assertFalse(line._filter(partners))
            line.date_value = "2026-03-03"
            self.assertEqual(line._filter(partners), partners)
        # 23:30 UTC on 2 March is already 3 March in Madrid, the company's time zone
        with self.at(datetime(2026, 3, 2, 23, 30)):
            self.assertFalse(line._filter(partners))
            self.assertEqual(line._get_domain(), [(0, "=", 1)], "decided once for the batch, without a query")

    def test_current_time_in_two_time_zones(self):
        madrid, new_york, no_tz = partners = self.make_partners(3, prefix="SJ clock")
        madrid.tz, new_york.tz = "Europe/Madrid", "America/New_York"
        no_tz.tz = False  # follows the company: Europe/Madrid
        line = self.lines({"condition_type": "current_time", "time_from": 9.0, "time_to": 17.0})
        with self.at(datetime(2026, 3, 2, 8, 30)):  # Madrid 09:30, New York 03:30
            self.assertEqual(line._filter(partners), madrid | no_tz)
        with self.at(datetime(2026, 3, 2, 16, 30)):  # Madrid 17:30, New York 11:30
            self.assertEqual(line._filter(partners), new_york)
        line.write({"time_from": 22.0, "time_to": 6.0})  # spans midnight
        with self.at(datetime(2026, 3, 2, 23, 30)):  # Madrid 00:30, New York 18:30
            self.assertEqual(line._filter(partners), madrid | no_tz)
            line.negate = True
            self.assertEqual(line._filter(partners), new_york)

    @users("user_flows_admin")
    def test_bad_date_and_time_settings_are_refused(self):
        cases = [
            ({"condition_type": "date_added", "date_operator": "on"}, "Set the date"),
            ({"condition_type": "last_form", "date_operator": "last_days", "days_value": 0}, "at least 1"),
            ({"condition_type": "current_date", "date_operator": "last_days"}, "choose on, before or after"),
            ({"condition_type": "current_time", "time_from": 9, "time_to": 9}, "two different times"),
            ({"condition_type": "current_time", "time_from": 9, "time_to": 25}, "two different times"),
        ]
        for vals, message in cases:
            with self.subTest(**vals), self.assertRaisesRegex(ValidationError, message):
                self.lines(vals)


class TestConditionGroups(ConditionsTimingCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.p1, cls.p2, cls.p3, cls.p4 = cls.partners = cls.make_partners(4, prefix="SJ group")
        cls.p1.write({"city": "Ghent", "category_id": [(6, 0, cls.tag_a.ids)]})
        cls.p2.write({"city": "Liège", "category_id": [(6, 0, cls.tag_a.ids)]})
        cls.p3.write({"city": "Ghent", "category_id": [(6, 0, cls.tag_b.ids)]})
        cls.p4.write({"city": "Namur"})

    def test_lines_of_a_group_and_groups_or(self):
        city = self.field("city").id
        lines = self.lines(
            {"or_group": 1, "condition_type": "tag", "tag_ids": [(6, 0, self.tag_a.ids)]},
            {"or_group": 1, "condition_type": "attribute", "field_id": city, "operator": "=", "value": "Ghent"},
            {"or_group": 2, "condition_type": "tag", "tag_ids": [(6, 0, self.tag_b.ids)]},
        )
        self.assertEqual(lines._filter(self.partners), self.p1 | self.p3, "(A and Ghent) or B")
        self.assertEqual(self.step.summary.split(", if ")[1],
                         "(has tag SJ test A and City is equal to Ghent), or has tag SJ test B")
        lines[1].negate = True
        self.assertEqual(lines._filter(self.partners), self.p2 | self.p3, "(A and NOT Ghent) or B")
        lines[2].negate = True
        self.assertEqual(lines._filter(self.partners), self.p1 | self.p2 | self.p4, "(A and NOT Ghent) or NOT B")

    @users("user_flows_admin")
    def test_default_group_keeps_every_line_required(self):
        lines = self.lines(
            {"condition_type": "tag", "tag_ids": [(6, 0, self.tag_a.ids)]},
            {"condition_type": "attribute", "field_id": self.field("city").id, "operator": "=", "value": "Ghent"},
        )
        self.assertEqual(set(lines.mapped("or_group")), {1})
        self.assertEqual(lines._filter(self.partners), self.p1)
        self.assertIn("if has tag SJ test A and City is equal to Ghent", self.step.summary)

    def test_groups_decide_which_contacts_run_the_step(self):
        flow = self.make_flow([self.tag_step(self.tag_c, condition_ids=[
            (0, 0, {"or_group": 1, "condition_type": "tag", "tag_ids": [(6, 0, self.tag_a.ids)]}),
            (0, 0, {"or_group": 1, "condition_type": "attribute", "field_id": self.field("city").id,
                    "operator": "=", "value": "Ghent"}),
            (0, 0, {"or_group": 2, "condition_type": "current_time", "time_from": 20, "time_to": 21}),
        ])])
        with self.at(T0):  # 10:00 in Madrid: the time group does not hold
            for partner in self.partners:
                self.Event.post("sj_test", partner)
            self.run_scheduler()
        self.assertEqual(self.jobs_of(flow).filtered(lambda j: j.state == "done").partner_id, self.p1)
        self.assertEqual(set(self.jobs_of(flow).mapped("state")), {"done", "skipped"})

    @users("user_flows_admin")
    def test_match_count_and_the_contacts_it_opens(self):
        self.lines({"condition_type": "tag", "tag_ids": [(6, 0, self.tag_a.ids)]},
                   {"or_group": 2, "condition_type": "tag", "tag_ids": [(6, 0, self.tag_b.ids)]})
        step = self.step.with_env(self.env)
        Partner = self.env["res.partner"]
        expected = Partner.search(["|", ("category_id", "in", self.tag_a.ids), ("category_id", "in", self.tag_b.ids)])
        self.assertEqual(len(expected), 3)
        step.invalidate_recordset(["match_count"])
        self.env.flush_all()
        with self.assertQueryCount(__system__=2, user_flows_admin=2):  # the conditions' tags, then one count
            self.assertEqual(step.match_count, 3)
        action = step.action_view_matching_contacts()
        self.assertEqual(Partner.search(action["domain"]), expected, "the list is evaluated live on the server")
        self.p4.category_id = self.tag_b
        self.assertEqual(Partner.search(action["domain"]), expected | self.p4)
        self.assertFalse(Partner.with_user(self.user_sales).search(action["domain"]),
                         "who meets a step's conditions is not shown to users outside Flows")
        step.condition_ids.unlink()
        step.invalidate_recordset(["match_count"])
        self.assertEqual(step.match_count,
                         Partner.search_count([("company_id", "in", [False, self.env.company.id])]),
                         "no condition: every contact")


# Runs as the cron does (superuser): the condition filter at scale, as a batch meets it; no person acts here.
class TestFilterAtScale(ConditionsTimingCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.model.fields"].create({
            "name": "x_age", "field_description": "Age", "ttype": "integer",
            "model_id": cls.env["ir.model"]._get_id("res.partner")})
        # 10,000 contacts in one statement, copies of one contact made by the ORM (so that columns other
        # modules make required are filled): ages 0..99, every third one tagged A, create dates spread
        # over 40 days, and time zones alternating between Madrid, New York and none
        template = cls.env["res.partner"].create({"name": "SJ bulk template"})
        cls.env.flush_all()
        own = ["id", "name", "complete_name", "x_age", "create_date", "tz"]
        cls.env.cr.execute(SQL(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'res_partner' "
            "AND NOT column_name = ANY(%s)", own))
        copied = SQL(", ").join(SQL.identifier(row[0]) for row in cls.env.cr.fetchall())
        cls.env.cr.execute(SQL(
            """
            INSERT INTO res_partner (name, complete_name, x_age, create_date, tz, %(copied)s)
            SELECT 'SJ bulk ' || i, 'SJ bulk ' || i, mod(i, 100), %(t0)s - make_interval(days => mod(i, 40)),
                   (ARRAY['Europe/Madrid', 'America/New_York', NULL])[1 + mod(i, 3)], %(copied)s
              FROM generate_series(0, 9999) AS i, (SELECT * FROM res_partner WHERE id = %(template)s) AS t
            RETURNING id, x_age, create_date, tz
            """,
            t0=T0, copied=copied, template=template.id,
        ))
        cls.rows = cls.env.cr.fetchall()
        cls.bulk = cls.env["res.partner"].browse([row[0] for row in cls.rows])
        tagged = cls.bulk[::3]
        cls.env.cr.execute(SQL(
            "INSERT INTO res_partner_res_partner_category_rel (partner_id, category_id) SELECT unnest(%s::int[]), %s",
            tagged.ids, cls.tag_a.id,
        ))
        cls.tagged_ids = set(tagged.ids)

    def test_ten_thousand_contacts_filtered_by_four_lines_in_a_constant_number_of_queries(self):
        lines = self.lines(
            {"condition_type": "tag", "tag_ids": [(6, 0, self.tag_a.ids)]},
            {"condition_type": "attribute", "field_id": self.field("x_age").id, "operator": ">", "value": "30"},
            {"condition_type": "date_added", "date_operator": "last_days", "days_value": 20},
            # 10:00 in Madrid (and for contacts without a zone), 04:00 in New York
            {"condition_type": "current_time", "time_from": 9, "time_to": 17},
        )
        expected = {pid for pid, age, created, tz in self.rows
                    if pid in self.tagged_ids and age > 30 and created >= T0 - timedelta(days=20)
                    and tz != "America/New_York"}
        self.assertTrue(100 < len(expected) < 2000)
        lines.mapped("tag_ids")
        lines.mapped("field_id.name")
        lines.mapped("step_id.company_id.partner_id.tz")
        self.env.flush_all()
        with self.at(T0):
            with self.assertQueryCount(__system__=1):
                small = lines._filter(self.bulk[:100])
            with self.assertQueryCount(__system__=1):
                result = lines._filter(self.bulk)
        self.assertEqual(set(result.ids), expected)
        self.assertEqual(set(small.ids), expected & set(self.bulk[:100].ids))


    def test_custom_integer_field_as_attribute(self):
        young, old, unknown = partners = self.make_partners(3, prefix="SJ age")
        young.x_age, old.x_age = 25, 61
        line = self.lines({"condition_type": "attribute", "field_id": self.field("x_age").id,
                           "operator": ">", "value": "40"})
        self.assertEqual(line._filter(partners), old)
        line.operator = "<"
        self.assertEqual(line._filter(partners), young | unknown, "an unset integer reads as 0")
        self.assertEqual(line.name, "Age is less than 40")


# Runs as the cron does (superuser): the scheduler's timing and sending windows; no person acts here.
class TestTiming(ConditionsTimingCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # a custom field changes the registry: created once for the class, reset after it
        cls.env["ir.model.fields"].create({
            "name": "x_birthday", "field_description": "Birthday", "ttype": "date",
            "model_id": cls.env["ir.model"]._get_id("res.partner")})

    def window(self, **vals):
        return {"window_active": True, "window_hour_from": 9.0, "window_hour_to": 17.0, **vals}

    def test_step_due_friday_evening_in_madrid_waits_for_monday_morning(self):
        flow = self.make_flow([self.tag_step(self.tag_a, **self.window())])
        madrid, new_york, no_tz = self.make_partners(3, prefix="SJ window")
        madrid.tz, new_york.tz = "Europe/Madrid", "America/New_York"
        self.env.company.partner_id.tz = "Asia/Tokyo"  # contacts without a zone follow the company
        no_tz.tz = False
        with self.at(FRIDAY_18_MADRID):
            for partner in (madrid, new_york, no_tz):
                self.Event.post("sj_test", partner)
            self.assertEqual(self.run_scheduler(), 1, "only New York (12:00 on Friday) is inside the window")
        dates = {job.partner_id: job.scheduled_date for job in self.jobs_of(flow)}
        self.assertEqual(dates[madrid], MONDAY_9_MADRID, "Monday 09:00 in Madrid is 08:00 UTC in winter")
        self.assertEqual(dates[no_tz], datetime(2026, 3, 9, 0, 0), "Monday 09:00 in Tokyo")
        self.assertEqual(self.jobs_of(flow, new_york).state, "done")
        with self.at(MONDAY_9_MADRID - timedelta(minutes=1)):
            self.run_scheduler()
        self.assertTags(madrid, absent=[self.tag_a])
        with self.at(MONDAY_9_MADRID):
            self.run_scheduler()
        self.assertTags(madrid, present=[self.tag_a])
        self.assertTags(no_tz, present=[self.tag_a])

    def test_window_moves_delays_and_is_checked_again_when_the_job_comes_due(self):
        flow = self.make_flow([self.tag_step(self.tag_a), self.tag_step(self.tag_b, timing="delay", delay_value=8,
                                                                        delay_unit="hours")])
        partner = self.make_partners(1)
        partner.tz = "Europe/Madrid"
        with self.at(T0):  # Monday 10:00 in Madrid; the second step is due at 18:00
            self.Event.post("sj_test", partner)
            self.run_scheduler()
        second = self.jobs_of(flow).filtered(lambda j: j.state == "pending")
        self.assertEqual(second.scheduled_date, T0 + timedelta(hours=8))
        # the window is added after the job was scheduled: it is moved when it comes due, not run
        flow.step_ids[1].write(self.window(window_hour_from=8.0, window_sat=True))
        with self.at(T0 + timedelta(hours=8)):
            self.run_scheduler()
        self.assertEqual(second.state, "pending")
        self.assertEqual(second.attempts, 0, "a job moved to the window is not an attempt")
        self.assertEqual(second.scheduled_date, datetime(2026, 3, 3, 7, 0), "Tuesday 08:00 in Madrid")
        self.assertTags(partner, absent=[self.tag_b])
        with self.at(datetime(2026, 3, 3, 7, 0)):
            self.run_scheduler()
        self.assertEqual(second.state, "done")

    def test_birthday_offer_three_days_before_the_next_birthday(self):
        flow = self.make_flow(
            [self.tag_step(self.tag_a, timing="relative", relative_field_id=self.field("x_birthday").id,
                           relative_value=3, relative_unit="days", relative_direction="before",
                           relative_yearly=True),
             self.tag_step(self.tag_b)],
            triggers=[{"trigger_type": "segment", "partner_domain": "[('name', 'like', 'SJ birthday')]"}],
        )
        in_a_week, tomorrow, last_month, unknown = self.make_partners(4, prefix="SJ birthday", tz="Europe/Madrid")
        in_a_week.x_birthday = date(1990, 3, 10)
        tomorrow.x_birthday = date(1985, 3, 3)
        last_month.x_birthday = date(1980, 2, 20)
        with self.at(T0):
            self.flow_launch(flow)
        dates = {job.partner_id: job.scheduled_date for job in self.jobs_of(flow)}
        self.assertEqual(dates[in_a_week], datetime(2026, 3, 6, 23, 0), "7 March 00:00 in Madrid")
        self.assertEqual(dates[tomorrow], T0, "the moment is past but the birthday is not: at once")
        self.assertEqual(dates[last_month], datetime(2027, 2, 16, 23, 0), "next year's birthday")
        self.assertEqual(dates[unknown], T0)
        with self.at(T0):
            self.run_scheduler()
        job = self.jobs_of(flow, unknown)[0]
        self.assertEqual((job.state, job.result), ("skipped", "The contact has no Birthday: step skipped."))
        self.assertTags(unknown, present=[self.tag_b], absent=[self.tag_a])
        self.assertTags(tomorrow, present=[self.tag_a, self.tag_b])
        self.assertIn("3 days before the next anniversary of Birthday", flow.step_ids[0].summary)

    def test_scheduling_is_set_based_whatever_the_number_of_contacts(self):
        """Relative dates and send windows for a launch: the same queries for 20 or 200 contacts."""
        counts, moments = [], []
        for count in (5, 20, 200):  # the first one warms the caches
            prefix = f"SJ launch {count} "
            partners = self.make_partners(count, prefix=prefix, tz="Europe/Madrid", x_birthday=date(1990, 3, 7))
            partners[::2].write({"tz": "America/New_York"})
            flow = self.make_flow(
                [self.tag_step(self.tag_a, timing="relative", relative_field_id=self.field("x_birthday").id,
                               relative_value=1, relative_unit="days", relative_yearly=True, **self.window())],
                triggers=[{"trigger_type": "segment", "partner_domain": repr([("name", "like", prefix)])}])
            self.env.flush_all()
            before = self.env.cr.sql_log_count
            with self.at(T0):
                self.assertEqual(flow._launch_segment(flow.trigger_ids), count)
            counts.append(self.env.cr.sql_log_count - before)
            moments.append(set(self.jobs_of(flow).mapped("scheduled_date")))
        self.assertEqual(counts[1], counts[2])
        # 6 March 00:00 local, moved to 09:00 local: 08:00 UTC in Madrid, 14:00 UTC in New York
        self.assertEqual(moments[2], {datetime(2026, 3, 6, 8, 0), datetime(2026, 3, 6, 14, 0)})

    def flow_launch(self, flow):
        return flow._launch_segment(flow.trigger_ids)

    def test_relative_to_a_date_of_the_event(self):
        flow = self.make_flow([self.tag_step(self.tag_a, timing="relative", relative_source="event",
                                             relative_key="course_start", relative_value=1, relative_unit="days")])
        on_time, late, offset, missing, garbage = self.make_partners(5, prefix="SJ course")
        with self.at(T0):
            self.Event.post("sj_test", on_time, data={"course_start": "2026-03-10 08:00:00"})
            self.Event.post("sj_test", late, data={"course_start": "2026-03-01T08:00:00Z"})
            self.Event.post("sj_test", offset, data={"course_start": "2026-03-10T10:00:00+02:00"})
            self.Event.post("sj_test", missing, data={})
            self.Event.post("sj_test", garbage, data={"course_start": "next week"})
        dates = {job.partner_id: job.scheduled_date for job in self.jobs_of(flow)}
        self.assertEqual(dates[on_time], datetime(2026, 3, 9, 8, 0))
        self.assertEqual(dates[late], T0, "a moment already past runs at once")
        self.assertEqual(dates[offset], datetime(2026, 3, 9, 8, 0))
        with self.at(T0):
            self.run_scheduler()
        for partner in (missing, garbage):
            job = self.jobs_of(flow, partner)
            self.assertEqual((job.state, job.result), ("skipped", "No date under “course_start” in the event data: "
                                                                  "step skipped."))
        self.assertEqual(self.jobs_of(flow, late).state, "done")
        self.assertIn("1 days before the event's “course_start”", flow.step_ids.summary)

    @users("user_flows_admin")
    def test_summary_tells_the_timing_and_the_window(self):
        flow = self.make_flow([self.tag_step(self.tag_a, timing="delay", delay_value=2, **self.window(
            window_sat=True, window_wed=False))])
        self.assertEqual(flow.step_ids.summary,
                         "Add tag SJ test A, 2 days after the previous step, "
                         "within Mon, Tue, Thu–Sat 09:00–17:00 (contact's time zone)")

    @users("user_flows_admin")
    def test_diagram_shows_relative_timing_window_and_or_groups(self):
        flow = self.make_flow([self.tag_step(
            self.tag_a, timing="relative", relative_field_id=self.field("x_birthday").id, relative_value=3,
            relative_unit="days", relative_direction="before", relative_yearly=True, **self.window(),
            condition_ids=[(0, 0, {"condition_type": "tag", "tag_ids": [(6, 0, self.tag_b.ids)]}),
                           (0, 0, {"or_group": 2, "condition_type": "tag", "tag_ids": [(6, 0, self.tag_c.ids)]})],
        )])
        node = flow.diagram_data["steps"][0]
        self.assertEqual(node["when"], "-3 days Birthday (yearly) · Mon–Fri 09:00–17:00")
        self.assertEqual(node["conditions"], "has tag SJ test B, or has tag SJ test C")

    @users("user_flows_admin")
    def test_export_and_import_keep_relative_timing_windows_and_or_groups(self):
        flow = self.make_flow([self.tag_step(
            self.tag_a, timing="relative", relative_field_id=self.field("x_birthday").id, relative_value=2,
            relative_unit="hours", relative_direction="after", relative_yearly=True,
            **self.window(window_hour_from=8.5, window_sun=True),
            condition_ids=[(0, 0, {"condition_type": "current_time", "time_from": 22, "time_to": 6}),
                           (0, 0, {"or_group": 2, "condition_type": "last_form", "date_operator": "last_days",
                                   "days_value": 3})],
        )])
        Transfer = self.env["salesjet.flow.transfer"]
        copy = Transfer.import_flows(Transfer.export_flows(flow))
        fields_ = ["timing", "relative_field_id", "relative_value", "relative_unit", "relative_direction",
                   "relative_yearly", "window_active", "window_hour_from", "window_sun", "window_sat", "summary"]
        self.assertEqual(copy.step_ids.read(fields_)[0] | {"id": 0}, flow.step_ids.read(fields_)[0] | {"id": 0})
        self.assertEqual(copy.step_ids.condition_ids.mapped("or_group"), [1, 2])
        self.assertEqual(copy.step_ids.condition_ids.mapped("name"), flow.step_ids.condition_ids.mapped("name"))

    @users("user_flows_admin")
    def test_bad_timing_settings_are_refused(self):
        flow = self.make_flow([])
        Step = self.env["salesjet.flow.step"]
        base = {"flow_id": flow.id, **self.tag_step(self.tag_a)}
        cases = [
            ({"timing": "relative", "relative_source": "field"}, "choose the contact's date field"),
            ({"timing": "relative", "relative_source": "event", "relative_key": " "}, "write the key"),
            (self.window(window_hour_from=17, window_hour_to=9), "must open before it closes"),
            (self.window(**{f"window_{d}": False for d in ("mon", "tue", "wed", "thu", "fri")}), "at least one day"),
        ]
        for vals, message in cases:
            with self.subTest(message), self.assertRaisesRegex(ValidationError, message):
                Step.create({**base, **vals})


# Runs as the cron does (superuser): the scheduler repeating a step; no person acts here.
class TestRepeatUntilOpened(ConditionsTimingCase):

    def test_repeat_stops_after_the_mail_is_opened(self):
        """A reminder every 3 days in a weekday window, until the contact opens one of them."""
        self.env.company.email = "shop@example.com"
        flow = self.make_flow([
            {"action_type": "email", "email_source": "custom", "email_subject": "Your course starts soon",
             "email_body": "<p>Hello {{ object.name }}</p>", "repeat": True, "repeat_interval": 3,
             "repeat_unit": "days", "repeat_max": 5, "window_active": True},
            self.tag_step(self.tag_b),
        ])
        step = flow.step_ids[0]
        self.lines({"condition_type": "email_opened", "negate": True, "mail_step_id": step.id}, step=step)
        partner = self.make_partners(1, tz="Europe/Madrid")
        with self.at(T0):  # Monday 10:00 in Madrid
            self.Event.post("sj_test", partner)
            self.run_scheduler()
        with self.at(T0 + timedelta(days=3)):  # Thursday
            self.run_scheduler()
        jobs = self.jobs_of(flow)
        self.assertEqual(jobs.mapped("state"), ["done", "done", "pending"])
        self.assertEqual(jobs[2].scheduled_date, MONDAY_9_MADRID, "Sunday's reminder waits for Monday 09:00")
        # the contact opens the second mail: Odoo's tracking pixel route does exactly this
        mail_id = jobs[1].res_id
        self.env["mailing.trace"].sudo().set_opened(domain=[("mail_mail_id_int", "in", [mail_id])])
        with self.at(MONDAY_9_MADRID):
            self.run_scheduler()
        jobs = self.jobs_of(flow)
        self.assertEqual(jobs.filtered(lambda j: j.step_id == step).mapped("state"), ["done", "done", "skipped"])
        self.assertIn("Repeat ended", jobs[2].result)
        self.assertEqual(self.env["mail.mail"].search_count([("mailing_id", "=", step.mailing_id.id)]), 2)
        self.assertTags(partner, present=[self.tag_b])
        self.assertEqual(jobs.enrollment_id.state, "done")


class TestLastFormFromTheWebsite(HttpCase):

    def test_a_website_form_makes_the_last_form_condition_hold(self):
        partner = self.env["res.partner"].create({"name": "SJ web visitor", "email": "visitor@example.com"})
        flow = self.env["salesjet.flow"].create({"state": "running", "name": "Form flow"})
        step = self.env["salesjet.flow.step"].create({
            "flow_id": flow.id, "action_type": "add_tag",
            "tag_ids": [(0, 0, {"name": "SJ web"})],
            "condition_ids": [(0, 0, {"condition_type": "last_form", "date_operator": "last_days", "days_value": 1})],
        })
        self.assertFalse(step.condition_ids._filter(partner))
        self.authenticate(None, None)
        response = self.url_open("/website/form/crm.lead", data={
            "contact_name": "Web Visitor", "email_from": "visitor@example.com", "name": "Question",
            "description": "Hello", "csrf_token": http.Request.csrf_token(self),
        })
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.json().get("id"))
        self.assertEqual(step.condition_ids._filter(partner), partner)
