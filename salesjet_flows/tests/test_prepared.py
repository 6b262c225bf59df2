from psycopg2 import errors

from odoo.tests import TransactionCase
from odoo.tools import SQL, mute_logger

from odoo.addons.salesjet_flows.tools.prepared import execute_prepared, execute_statement, number_parameters

from .common import sent_statements


class TestPreparedStatements(TransactionCase):
    """tools/prepared.py: the engine's hot statements are planned once per cursor, not on every execution."""

    def query(self, value):
        # a text of its own per test: the test cursor, and so what it prepared, outlives each test
        return SQL(f"SELECT %s::int + 1, 'a%%' || %s::text, %s::int[] -- {self._testMethodName}",
                   value, "b", [value, 2])

    def statements(self, values):
        """(texts sent to PostgreSQL, rows fetched) for one execution of ``query(value)`` per value."""
        results = []
        with sent_statements() as sent:
            for value in values:
                execute_prepared(self.env.cr, self.query(value))
                results.append(self.env.cr.fetchone())
        return [text for text, _params in sent], results

    def test_a_statement_is_prepared_once_then_executed_by_name_with_its_parameters(self):
        sent, results = self.statements([1, 41, 99])
        self.assertEqual(results, [(2, "a%b", [1, 2]), (42, "a%b", [41, 2]), (100, "a%b", [99, 2])])
        self.assertEqual(len(sent), 4, "one PREPARE, then one EXECUTE per call")
        self.assertTrue(sent[0].startswith("PREPARE salesjet_"))
        self.assertIn("$1::int + 1", sent[0])
        self.assertIn("'a%' || $2::text", sent[0], "a literal % is PostgreSQL's own")
        self.assertTrue(all(text.startswith("EXECUTE salesjet_") for text in sent[1:]))
        again, _results = self.statements([5])
        self.assertEqual(len(again), 1, "still prepared for this cursor")

    def test_a_session_that_lost_its_statements_prepares_them_again(self):
        self.statements([1])
        self.env.cr.execute("SAVEPOINT lost")
        # what the pool's reset (DISCARD ALL) does to the session of a connection a cursor borrows
        self.env.cr.execute("DEALLOCATE ALL")
        with mute_logger("odoo.sql_db"), self.assertRaises(errors.InvalidSqlStatementName):
            execute_prepared(self.env.cr, self.query(1))
        self.env.cr.execute("ROLLBACK TO SAVEPOINT lost")
        sent, results = self.statements([7])
        self.assertEqual(results, [(8, "a%b", [7, 2])])
        self.assertTrue(sent[0].startswith("PREPARE"))

    def test_parameters_must_match_the_placeholders(self):
        class Mismatched:
            code = "SELECT %s::int, %s::int"
            params = (1,)

        with self.assertRaises(ValueError):
            execute_prepared(self.env.cr, Mismatched())

    def test_a_value_used_in_several_places_is_sent_once(self):
        names, slots = number_parameters(["now", "uid", "now", "x", "uid"])
        self.assertEqual((names, slots), (("now", "uid", "x"), (1, 2, 1, 3, 2)))
        code = (f"SELECT %s::int, %s::int + 1, %s::int * 10, '%%' || %s::text, %s::int  -- {self._testMethodName}")
        with sent_statements() as sent:
            for now in (4, 6):
                execute_statement(self.env.cr, code, [now, 20, "y"], slots=slots)
                self.assertEqual(self.env.cr.fetchone(), (now, 21, now * 10, "%y", 20))
        self.assertIn("$1::int, $2::int + 1, $1::int * 10, '%' || $3::text, $2::int", sent[0][0])
        self.assertEqual(sent[-1][1], [6, 20, "y"], "three values for five placeholders")
        with self.assertRaises(ValueError):
            execute_statement(self.env.cr, code, [1, 2, "y", 4, 5], slots=slots)
        with self.assertRaises(ValueError):
            execute_statement(self.env.cr, code + ", %s::int", [1, 2, "y"], slots=slots)
