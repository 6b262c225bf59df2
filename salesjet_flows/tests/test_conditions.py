from odoo.exceptions import ValidationError
from odoo.tests import users

from .common import SalesjetCase


class TestConditions(SalesjetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.flow = cls.make_flow([cls.tag_step(cls.tag_c)])
        cls._step = cls.flow.step_ids
        cls.p1, cls.p2, cls.p3 = cls.partners = cls.make_partners(3, prefix="SJ cond")
        cls.p1.write({"city": "Ghent", "category_id": [(6, 0, cls.tag_a.ids)], "phone": "+32 470 00 00 01"})
        cls.p2.write({"city": "Liège", "category_id": [(6, 0, (cls.tag_a | cls.tag_b).ids)]})
        cls.p3.write({"city": "Ghentbrugge"})

    @property
    def step(self):
        """The step, with the rights of whoever runs the test."""
        return self._step.with_env(self.env)

    def field(self, name):
        return self.env["ir.model.fields"]._get("res.partner", name)

    def lines(self, *vals_list):
        self.step.condition_ids.unlink()
        return self.env["salesjet.flow.condition"].create([{"step_id": self.step.id, **vals} for vals in vals_list])

    def test_has_tag_true_and_false(self):
        conditions = self.lines({"condition_type": "tag", "tag_ids": [(6, 0, self.tag_b.ids)]})
        self.assertEqual(conditions._filter(self.partners), self.p2)
        conditions.negate = True
        self.assertEqual(conditions._filter(self.partners), self.p1 | self.p3)

    def test_contact_attribute_operators(self):
        city = self.field("city")
        cases = [
            ("=", "Ghent", self.p1),
            ("!=", "Ghent", self.p2 | self.p3),
            ("ilike", "ghent", self.p1 | self.p3),
            ("set", False, self.partners),
        ]
        for operator, value, expected in cases:
            with self.subTest(operator=operator):
                conditions = self.lines({"condition_type": "attribute", "field_id": city.id,
                                         "operator": operator, "value": value})
                self.assertEqual(conditions._filter(self.partners), expected)
        conditions = self.lines({"condition_type": "attribute", "field_id": self.field("phone").id,
                                 "operator": "not_set"})
        self.assertEqual(conditions._filter(self.partners), self.p2 | self.p3)

    def test_attribute_on_numbers_and_relations(self):
        self.p1.color, self.p2.color, self.p3.color = 2, 5, 9
        conditions = self.lines({"condition_type": "attribute", "field_id": self.field("color").id,
                                 "operator": ">", "value": "4"})
        self.assertEqual(conditions._filter(self.partners), self.p2 | self.p3)
        conditions = self.lines({"condition_type": "attribute", "field_id": self.field("category_id").id,
                                 "operator": "=", "value": self.tag_b.name})
        self.assertEqual(conditions._filter(self.partners), self.p2)

    def test_lines_are_and_combined(self):
        conditions = self.lines(
            {"condition_type": "tag", "tag_ids": [(6, 0, self.tag_a.ids)]},
            {"condition_type": "attribute", "field_id": self.field("city").id, "operator": "ilike", "value": "li"},
        )
        self.assertEqual(conditions._filter(self.partners), self.p2)

    def test_filter_is_one_query_for_a_batch(self):
        conditions = self.lines(
            {"condition_type": "tag", "tag_ids": [(6, 0, self.tag_a.ids)]},
            {"condition_type": "attribute", "field_id": self.field("city").id, "operator": "ilike", "value": "e"},
        )
        many = self.make_partners(300, prefix="SJ many", city="Everywhere")
        self.env.flush_all()
        conditions.mapped("tag_ids")
        conditions.mapped("field_id.name")
        with self.assertQueryCount(__system__=1):
            conditions._filter(many | self.partners)

    @users("user_flows_admin")
    def test_bad_settings_are_refused_with_a_sentence(self):
        with self.assertRaisesRegex(ValidationError, "Choose at least one tag"):
            self.lines({"condition_type": "tag"})
        with self.assertRaisesRegex(ValidationError, "cannot be compared"):
            self.lines({"condition_type": "attribute", "field_id": self.field("color").id,
                        "operator": ">", "value": "many"})
        with self.assertRaisesRegex(ValidationError, "Choose a field"):
            self.lines({"condition_type": "attribute", "operator": "="})

    @users("user_flows_admin")
    def test_condition_name_reads_like_a_sentence(self):
        condition = self.lines({"condition_type": "tag", "negate": True, "tag_ids": [(6, 0, self.tag_a.ids)]})
        self.assertEqual(condition.name, "NOT has tag SJ test A")
        self.assertIn("if NOT has tag SJ test A", self.step.summary)

    @users("user_flows_admin")
    def test_flows_administrator_can_pick_a_contact_field_for_a_condition(self):
        """The Field drop-down of an attribute condition searches the contact's fields as its user."""
        condition_field = self.env["salesjet.flow.condition"]._fields["field_id"]
        found = self.env["ir.model.fields"].name_search("City", condition_field.domain, limit=5)
        self.assertIn(self.field("city").id, [field_id for field_id, _name in found])
        condition = self.lines({"condition_type": "attribute", "field_id": self.field("city").id,
                                "operator": "=", "value": "Ghent"})
        self.assertEqual(condition.field_id.name, "city")
