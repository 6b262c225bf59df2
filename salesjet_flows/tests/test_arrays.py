from datetime import date, datetime

from odoo.tests import TransactionCase
from odoo.tools import SQL

from odoo.addons.salesjet_flows.tools.arrays import array_literal


class TestArrayLiterals(TransactionCase):
    """tools/arrays.py: a batch's columns go to PostgreSQL as one array constant each, and read back as the
    values they were, whatever bytes a contact's text holds."""

    def read_back(self, values, cast):
        self.env.cr.execute(SQL(f"SELECT %s::{cast}", array_literal(values)))  # cast: a constant of the test
        return self.env.cr.fetchone()[0]

    def test_texts_read_back_as_themselves(self):
        texts = ['He said "hi"', "back\\slash", "trailing\\", "{braces}", "a,b", "NULL", "null", "", " padded ",
                 "it's", "new\nline", "tab\t", "Ünïcødé ✓ 日本", "'); DROP TABLE res_partner; --", None]
        self.assertEqual(self.read_back(texts, "text[]"), texts)
        self.assertEqual(self.read_back(texts, "varchar[]"), texts)

    def test_numbers_dates_booleans_and_nulls_read_back(self):
        self.assertEqual(self.read_back([1, None, -7, 2**31 - 1], "int[]"), [1, None, -7, 2**31 - 1])
        moments = [datetime(2026, 12, 4, 1, 2, 3), datetime(2026, 12, 4, 1, 2, 3, 456789), None]
        self.assertEqual(self.read_back(moments, "timestamp[]"), moments)
        self.assertEqual(self.read_back([date(2026, 2, 28), None], "date[]"), [date(2026, 2, 28), None])
        self.assertEqual(self.read_back([True, False, None], "bool[]"), [True, False, None])
        self.assertEqual(self.read_back([], "int[]"), [])
        self.assertEqual(self.read_back({3}, "int[]"), [3], "any iterable, a set included")

    def test_repeated_values_read_back_in_their_order(self):
        """A batch's columns repeat a few values (its states, its time): each distinct value is converted once,
        and every element still reads back in its place."""
        states = ["done", "skipped", "done", None, 'sk"ip', "done"]
        self.assertEqual(self.read_back(states, "varchar[]"), states)
        now, later = datetime(2026, 12, 4, 5, 0, 0), datetime(2026, 12, 4, 5, 0, 0, 1)
        moments = [now, now, None, later, now]
        self.assertEqual(self.read_back(moments, "timestamp[]"), moments)
        self.assertEqual(self.read_back((n % 3 for n in range(7)), "int[]"), [0, 1, 2, 0, 1, 2, 0],
                         "a generator, read once")
        # True equals 1 as a key: values of several types are converted one by one
        self.assertEqual(array_literal([True, 1, False, 0, None]), "{t,1,f,0,NULL}")
        self.assertEqual(array_literal([1, True, 0, False]), "{1,t,0,f}")

    def test_json_documents_read_back_as_jsonb(self):
        documents = ['{"name": "Ann \\"the\\" Bee", "path": "C:\\\\x", "list": [1, {"a": null}]}', None]
        self.env.cr.execute(SQL("SELECT d FROM unnest(%s::jsonb[]) AS d", array_literal(documents)))
        self.assertEqual([row[0] for row in self.env.cr.fetchall()],
                         [{"name": 'Ann "the" Bee', "path": "C:\\x", "list": [1, {"a": None}]}, None])

    def test_other_values_are_refused(self):
        with self.assertRaises(TypeError):
            array_literal([1.5])
