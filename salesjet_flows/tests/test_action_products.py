from datetime import timedelta

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, users

from .common import T0, SalesjetCase


class ProductCase(SalesjetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        Product = cls.env["product.product"]
        cls.course = Product.create({"name": "SJ Course", "list_price": 100.0})
        cls.ebook = Product.create({"name": "SJ Ebook", "list_price": 50.0})
        cls.mug = Product.create({"name": "SJ Mug", "list_price": 20.0})
        # the contacts' usual pricelist: 10% off everything, so "everything else keeps its price" is visible
        cls.base_pricelist = cls.env["product.pricelist"].create({
            "name": "SJ Resellers", "company_id": cls.company.id, "currency_id": cls.company.currency_id.id,
            "item_ids": [(0, 0, {"applied_on": "3_global", "compute_price": "percentage", "percent_price": 10})],
        })

    # with the rights of whoever runs the test (a Flows administrator under @users)
    @property
    def Access(self):
        return self.env["salesjet.product.access"]

    @property
    def Offer(self):
        return self.env["salesjet.special.offer"]

    def grant_step(self, products, action="product_grant", **vals):
        return {"action_type": action, "access_product_ids": [(6, 0, products.ids)], **vals}

    def offer_step(self, products=None, **vals):
        return {"action_type": "offer_create", "offer_product_ids": [(6, 0, (products or self.course).ids)],
                "offer_price_type": "fixed", "offer_fixed_price": 60.0, "offer_validity": "days",
                "offer_valid_days": 7, **vals}

    def price(self, partner, product):
        """What ``partner`` pays for one ``product`` now, through its pricelist, as a sale would compute it."""
        partner.invalidate_recordset()
        pricelist = partner.with_company(self.company).property_product_pricelist
        return pricelist._get_product_price(product, 1.0)

    def customers(self, count=1, prefix="SJ customer"):
        partners = self.make_partners(count, prefix=prefix)
        partners.property_product_pricelist = self.base_pricelist
        return partners

    def run_flow(self, flow, partners, when=T0):
        with self.at(when):
            flow._enroll(partners.ids)
            self.run_scheduler()


class TestProductAccess(ProductCase):

    def test_add_product_gives_access_and_a_second_grant_is_a_noop(self):
        flow = self.make_flow([self.grant_step(self.course | self.ebook)], reentry_policy="always")
        partner = self.make_partners(1)
        self.run_flow(flow, partner)
        job = self.jobs_of(flow)
        self.assertEqual(job.state, "done")
        self.assertEqual(job.result, "Access given to SJ Course, SJ Ebook.")
        accesses = self.Access.search([("partner_id", "=", partner.id)])
        self.assertEqual(accesses.product_id, self.course | self.ebook)
        self.assertEqual(set(accesses.mapped("state")), {"active"})
        self.assertEqual(accesses.grant_flow_id, flow)
        self.assertEqual(accesses.grant_step_id, flow.step_ids)
        self.assertEqual(accesses.mapped("date_granted"), [T0, T0])

        self.run_flow(flow, partner, when=T0 + timedelta(days=1))
        again = self.jobs_of(flow)[-1]
        self.assertEqual(again.state, "done")
        self.assertEqual(again.result, "Already had access to SJ Course, SJ Ebook: nothing to do.")
        self.assertEqual(self.Access.search([("partner_id", "=", partner.id)]), accesses, "no duplicate access")
        self.assertEqual(accesses.mapped("date_granted"), [T0, T0], "the first grant date stays")
        self.assertEqual(partner.salesjet_product_access_count, 2)

    def test_add_product_to_a_contact_who_has_some_of_them_grants_the_rest(self):
        flow = self.make_flow([self.grant_step(self.course | self.ebook)])
        partner = self.make_partners(1)
        self.Access._grant(partner.ids, self.course.ids)
        self.run_flow(flow, partner)
        self.assertEqual(self.jobs_of(flow).result, "Access given to SJ Ebook; already had SJ Course.")
        self.assertEqual(self.Access.search_count([("partner_id", "=", partner.id), ("state", "=", "active")]), 2)

    @users("user_flows_admin")
    def test_only_one_active_access_per_contact_and_product_even_by_hand(self):
        partner = self.make_partners(1)
        self.Access.create({"partner_id": partner.id, "product_id": self.course.id})
        with self.assertRaisesRegex(ValidationError, "already has access to SJ Course"):
            self.Access.create({"partner_id": partner.id, "product_id": self.course.id})

    def test_remove_product_access_keeps_history_and_skips_contacts_who_never_had_it(self):
        grant = self.make_flow([self.grant_step(self.course)])
        revoke = self.make_flow([self.grant_step(self.course | self.ebook, action="product_revoke")])
        holder, stranger = self.make_partners(2)
        self.run_flow(grant, holder)
        self.run_flow(revoke, holder | stranger, when=T0 + timedelta(days=3))
        holder_job, stranger_job = self.jobs_of(revoke, holder), self.jobs_of(revoke, stranger)
        self.assertEqual(holder_job.state, "done")
        self.assertEqual(holder_job.result, "Access to SJ Course revoked; had no access to SJ Ebook.")
        self.assertEqual(stranger_job.state, "skipped")
        self.assertEqual(stranger_job.result, "No access to revoke: the contact has no access to SJ Course, SJ Ebook.")
        access = self.Access.search([("partner_id", "=", holder.id)])
        self.assertEqual(len(access), 1, "revoking keeps the row as history")
        self.assertEqual((access.state, access.date_revoked, access.revoke_flow_id),
                         ("revoked", T0 + timedelta(days=3), revoke))
        self.assertEqual(holder.salesjet_product_access_count, 0)
        # granting again after a revoke starts a new access; the old one stays revoked
        self.Access._grant(holder.ids, self.course.ids)
        self.assertEqual(sorted(self.Access.search([("partner_id", "=", holder.id)]).mapped("state")),
                         ["active", "revoked"])

    def test_has_product_condition_filters_on_active_access(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        holder, revoked, stranger = self.make_partners(3)
        self.Access._grant((holder | revoked).ids, self.course.ids)
        self.Access._revoke(revoked.ids, self.course.ids)
        condition = self.env["salesjet.flow.condition"].create({
            "step_id": flow.step_ids.id, "condition_type": "has_product",
            "access_product_ids": [(6, 0, (self.course | self.ebook).ids)]})
        # "has access to", or "bought or has access to" with the shop bridge: the label says what counts
        self.assertIn("has access to SJ Course, SJ Ebook", condition.name)
        everyone = holder | revoked | stranger
        self.assertEqual(condition._filter(everyone), holder)
        condition.negate = True
        self.assertEqual(condition._filter(everyone), revoked | stranger)
        # and through the engine: only the holder gets the tag
        condition.negate = False
        self.run_flow(flow, everyone)
        self.assertTags(holder, present=self.tag_a)
        self.assertTags(stranger, absent=self.tag_a)
        self.assertEqual(self.jobs_of(flow, stranger).result, "Conditions not met.")

    def test_has_product_condition_filters_a_batch_in_one_query(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        partners = self.make_partners(50)
        self.Access._grant(partners[:20].ids, self.course.ids)
        condition = self.env["salesjet.flow.condition"].create({
            "step_id": flow.step_ids.id, "condition_type": "has_product",
            "access_product_ids": [(6, 0, self.course.ids)]})
        self.env.flush_all()
        with self.assertQueryCount(__system__=1):
            found = condition._filter(partners)
        self.assertEqual(found, partners[:20])

    def test_add_product_for_200_contacts_takes_a_bounded_number_of_queries(self):
        flow = self.make_flow([self.grant_step(self.course | self.ebook)])
        small, large = self.make_partners(20, prefix="SJ small"), self.make_partners(200, prefix="SJ large")
        counts = {}
        for name, partners in (("small", small), ("large", large)):
            with self.at(T0):
                flow._enroll(partners.ids)
                self.env.flush_all()
                self.env.invalidate_all()
                before = self.env.cr.sql_log_count
                self.run_scheduler()
                counts[name] = self.env.cr.sql_log_count - before
        self.assertEqual(self.Access.search_count([("partner_id", "in", large.ids), ("state", "=", "active")]), 400)
        self.assertEqual(set(self.jobs_of(flow).mapped("state")), {"done"})
        # measured: 23 queries for 20 contacts (first batch, cold caches), 18 for 200
        self.assertLessEqual(counts["large"], counts["small"] + 5,
                             f"10x the contacts must not cost more queries: {counts}")
        self.assertLess(counts["large"], 40, counts)

    @users("user_flows_admin")
    def test_bad_product_settings_are_refused(self):
        flow = self.make_flow([])
        Step = self.env["salesjet.flow.step"]
        with self.assertRaisesRegex(ValidationError, "choose the products to give access to"):
            Step.create({"flow_id": flow.id, "action_type": "product_grant"})
        with self.assertRaisesRegex(ValidationError, "choose the products whose access ends"):
            Step.create({"flow_id": flow.id, "action_type": "product_revoke"})
        step = Step.create({"flow_id": flow.id, **self.tag_step(self.tag_a)})
        with self.assertRaisesRegex(ValidationError, "Choose at least one product for the condition"):
            self.env["salesjet.flow.condition"].create({"step_id": step.id, "condition_type": "has_product"})


class TestSpecialOffer(ProductCase):

    def test_fixed_price_offer_changes_the_contacts_price_and_nothing_else(self):
        flow = self.make_flow([self.offer_step(self.course | self.ebook, offer_fixed_price=60.0)])
        partner, neighbour = self.customers(2)
        self.assertEqual(self.price(partner, self.course), 90.0, "10% off on the usual pricelist")
        self.run_flow(flow, partner)
        job = self.jobs_of(flow)
        self.assertEqual(job.state, "done")
        offer = self.Offer.browse(job.res_id)
        self.assertEqual(job.res_model, "salesjet.special.offer")
        self.assertIn("Special offer created", job.result)
        self.assertEqual((offer.partner_id, offer.state, offer.valid_until),
                         (partner, "active", T0 + timedelta(days=7)))
        with self.at(T0 + timedelta(days=1)):
            self.assertEqual(self.price(partner, self.course), 60.0)
            self.assertEqual(self.price(partner, self.ebook), 60.0)
            self.assertEqual(self.price(partner, self.mug), 18.0, "other products keep the usual pricelist's price")
            self.assertEqual(self.price(neighbour, self.course), 90.0, "other contacts are not affected")
        pricelist = partner.with_company(self.company).property_product_pricelist
        self.assertEqual(pricelist, offer.pricelist_id)
        self.assertEqual(pricelist.name, f"Special offer – {partner.name}")
        self.assertEqual(pricelist.salesjet_previous_pricelist_id, self.base_pricelist)
        # a personal pricelist is never the default of contacts without a pricelist of their own
        newcomer = self.make_partners(1, prefix="SJ newcomer")
        self.assertFalse(newcomer.with_company(self.company).property_product_pricelist.salesjet_partner_id)
        self.assertEqual(partner.salesjet_offer_count, 1)

    def test_discount_offer_is_off_the_price_the_contact_paid_before(self):
        flow = self.make_flow([self.offer_step(offer_price_type="discount", offer_discount=50.0)])
        partner = self.customers()
        self.run_flow(flow, partner)
        with self.at(T0 + timedelta(hours=1)):
            self.assertEqual(self.price(partner, self.course), 45.0, "50% off the 90 the contact paid")
            self.assertEqual(self.price(partner, self.ebook), 45.0, "not on offer: 10% off as before")
        self.assertEqual(self.Offer.search([("partner_id", "=", partner.id)]).price_label, "50.00% off")

    def test_discount_for_a_contact_without_its_own_pricelist_is_off_the_default_price(self):
        flow = self.make_flow([self.offer_step(offer_price_type="discount", offer_discount=25.0)])
        partner = self.make_partners(1)
        self.assertFalse(partner.with_company(self.company).specific_property_product_pricelist)
        course_before, mug_before = self.price(partner, self.course), self.price(partner, self.mug)
        self.run_flow(flow, partner)
        with self.at(T0 + timedelta(hours=1)):
            self.assertAlmostEqual(self.price(partner, self.course), course_before * 0.75)
            self.assertEqual(self.price(partner, self.mug), mug_before)
        self.env["salesjet.special.offer"].search([("partner_id", "=", partner.id)]).action_end()
        self.assertFalse(partner.with_company(self.company).specific_property_product_pricelist,
                         "back to the default pricelist, not pinned to it")

    def test_running_the_offer_step_again_updates_the_existing_offer(self):
        flow = self.make_flow([self.offer_step(offer_fixed_price=60.0)], reentry_policy="always")
        partner = self.customers()
        self.run_flow(flow, partner)
        offer = self.Offer.search([("partner_id", "=", partner.id)])
        flow.step_ids.write({"offer_fixed_price": 40.0, "offer_valid_days": 10})
        self.run_flow(flow, partner, when=T0 + timedelta(days=2))
        self.assertEqual(self.Offer.search([("partner_id", "=", partner.id)]), offer, "updated, not duplicated")
        self.assertIn("Special offer updated", self.jobs_of(flow)[-1].result)
        self.assertEqual((offer.fixed_price, offer.valid_until, offer.date_start),
                         (40.0, T0 + timedelta(days=12), T0))
        self.assertEqual(len(offer.item_ids), 1, "the old rule was replaced")
        with self.at(T0 + timedelta(days=11)):
            self.assertEqual(self.price(partner, self.course), 40.0, "new price, valid until the new end")

    def test_removing_the_offer_restores_the_previous_pricelist_and_price(self):
        create = self.make_flow([self.offer_step()], reentry_policy="always")
        remove = self.make_flow([{"action_type": "offer_remove"}])
        partner, without_offer = self.customers(2)
        self.run_flow(create, partner)
        self.run_flow(remove, partner | without_offer, when=T0 + timedelta(days=2))
        offer = self.Offer.search([("partner_id", "=", partner.id)])
        job = self.jobs_of(remove, partner)
        self.assertEqual((job.state, job.res_id), ("done", offer.id))
        self.assertEqual((offer.state, offer.date_ended), ("ended", T0 + timedelta(days=2)))
        self.assertEqual(self.jobs_of(remove, without_offer).state, "skipped")
        self.assertEqual(self.jobs_of(remove, without_offer).result, "No running special offer to end.")
        with self.at(T0 + timedelta(days=3)):
            self.assertEqual(self.price(partner, self.course), 90.0)
        self.assertEqual(partner.with_company(self.company).property_product_pricelist, self.base_pricelist)
        self.assertFalse(offer.pricelist_id.active, "the personal pricelist is archived")
        self.assertEqual(offer.item_ids.date_end, T0 + timedelta(days=2), "its rule ends when it is removed")
        # an offer made later reuses the personal pricelist
        self.run_flow(create, partner, when=T0 + timedelta(days=4))
        self.assertEqual(partner.with_company(self.company).property_product_pricelist, offer.pricelist_id)
        self.assertTrue(offer.pricelist_id.active)

    def test_removing_an_offer_the_same_second_it_was_made_ends_it(self):
        flow = self.make_flow([self.offer_step(), {"action_type": "offer_remove"}])
        partner = self.customers()
        self.run_flow(flow, partner)
        self.assertEqual(self.jobs_of(flow).mapped("state"), ["done", "done"])
        with self.at(T0):
            self.assertEqual(self.price(partner, self.course), 90.0)

    def test_removing_the_offer_of_one_step_keeps_the_others(self):
        flow = self.make_flow([self.offer_step(self.course), self.offer_step(self.ebook, offer_fixed_price=30.0)])
        remove = self.make_flow([{"action_type": "offer_remove", "offer_source_step_id": flow.step_ids[0].id}])
        partner = self.customers()
        self.run_flow(flow, partner)
        self.run_flow(remove, partner, when=T0 + timedelta(hours=1))
        with self.at(T0 + timedelta(hours=2)):
            self.assertEqual(self.price(partner, self.course), 90.0)
            self.assertEqual(self.price(partner, self.ebook), 30.0)
        self.assertEqual(self.Offer.search([("partner_id", "=", partner.id)]).mapped("state"), ["active", "ended"])

    def test_a_pricelist_chosen_by_a_salesperson_meanwhile_is_kept_on_removal(self):
        create = self.make_flow([self.offer_step()])
        partner = self.customers()
        self.run_flow(create, partner)
        vip = self.env["product.pricelist"].create({"name": "SJ VIP", "company_id": self.company.id})
        partner.property_product_pricelist = vip
        self.Offer.search([("partner_id", "=", partner.id)]).action_end()
        self.assertEqual(partner.with_company(self.company).property_product_pricelist, vip)

    def test_expired_offer_gives_the_usual_price_back(self):
        flow = self.make_flow([self.offer_step(offer_valid_days=7)])
        partner = self.customers()
        self.run_flow(flow, partner)
        offer = self.Offer.search([("partner_id", "=", partner.id)])
        cron = self.env.ref("salesjet_flows.ir_cron_salesjet_expire_offers")
        with self.at(T0 + timedelta(days=6, hours=23)):
            cron.method_direct_trigger()
            self.assertEqual(offer.state, "active")
            self.assertEqual(self.price(partner, self.course), 60.0)
        with self.at(T0 + timedelta(days=7, minutes=1)):
            self.assertEqual(self.price(partner, self.course), 90.0, "the price ends on time, before the cron runs")
            cron.method_direct_trigger()
            offer.invalidate_recordset()
            self.assertEqual(offer.state, "expired")
            self.assertEqual(partner.with_company(self.company).property_product_pricelist, self.base_pricelist)
            self.assertEqual(self.price(partner, self.course), 90.0)

    def test_offer_until_a_date_that_has_passed_is_skipped(self):
        flow = self.make_flow([self.offer_step(offer_validity="date", offer_valid_until=T0 + timedelta(days=1))])
        partner = self.customers()
        self.run_flow(flow, partner, when=T0 + timedelta(days=2))
        job = self.jobs_of(flow)
        self.assertEqual(job.state, "skipped")
        self.assertIn("that date has passed", job.result)
        self.assertFalse(self.Offer.search([("partner_id", "=", partner.id)]))

    def test_offer_for_a_batch_takes_a_bounded_number_of_queries(self):
        flow = self.make_flow([self.offer_step(offer_price_type="discount", offer_discount=20.0)])
        small, large = self.customers(10, prefix="SJ small"), self.customers(100, prefix="SJ large")
        counts = {}
        for name, partners in (("small", small), ("large", large)):
            with self.at(T0):
                flow._enroll(partners.ids)
                self.env.flush_all()
                self.env.invalidate_all()
                before = self.env.cr.sql_log_count
                self.run_scheduler()
                counts[name] = self.env.cr.sql_log_count - before
        self.assertEqual(self.Offer.search_count([("partner_id", "in", large.ids), ("state", "=", "active")]), 100)
        with self.at(T0 + timedelta(hours=1)):
            self.assertEqual(self.price(large[-1], self.course), 72.0)
        # measured: 47 queries for 10 contacts (first batch, cold caches), 38 for 100
        self.assertLessEqual(counts["large"], counts["small"] + 10,
                             f"10x the contacts must not cost more queries: {counts}")
        self.assertLess(counts["large"], 80, counts)

    @users("user_flows_admin")
    def test_bad_offer_settings_are_refused(self):
        flow = self.make_flow([])
        Step = self.env["salesjet.flow.step"]
        cases = [
            ({"offer_product_ids": [(5,)]}, "choose the products on offer"),
            ({"offer_price_type": "discount", "offer_discount": 0}, "more than 0 and at most 100"),
            ({"offer_price_type": "discount", "offer_discount": 120}, "more than 0 and at most 100"),
            ({"offer_price_type": "fixed", "offer_fixed_price": -1}, "cannot be negative"),
            ({"offer_validity": "days", "offer_valid_days": 0}, "valid for at least 1 day"),
            ({"offer_validity": "date", "offer_valid_until": False}, "set the date until which"),
        ]
        for vals, message in cases:
            with self.subTest(message=message), self.assertRaisesRegex(ValidationError, message):
                Step.create({"flow_id": flow.id, **self.offer_step(**vals)})
        step = Step.create({"flow_id": flow.id, **self.offer_step()})
        with self.assertRaisesRegex(ValidationError, "more than 0 and at most 100"):
            step.write({"offer_price_type": "discount", "offer_discount": 101})


class TestProductSecurity(ProductCase):

    def test_salespeople_see_offers_and_access_but_only_flow_administrators_end_them(self):
        salesman = self.user_sales
        flow = self.make_flow([self.grant_step(self.course), self.offer_step()])
        partner = self.customers()
        self.run_flow(flow, partner)
        as_salesman = partner.with_user(salesman)
        self.assertEqual(as_salesman.salesjet_product_access_count, 1)
        self.assertEqual(as_salesman.salesjet_offer_count, 1)
        offer = as_salesman.salesjet_offer_ids
        self.assertEqual(offer.price_type, "fixed")
        with self.assertRaises(AccessError):
            offer.action_end()
        with self.assertRaises(AccessError):
            as_salesman.salesjet_product_access_ids.action_revoke()
        self.assertEqual(offer.sudo().state, "active")
        form = self.env["res.partner"].with_user(salesman).get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn("action_view_salesjet_offers", form, "the contact form shows the offers to salespeople")
        self.assertIn("action_view_salesjet_product_access", form)
        stranger = new_test_user(self.env, "sj_stranger_products", groups="base.group_user")
        form = self.env["res.partner"].with_user(stranger).get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertNotIn("action_view_salesjet_offers", form)
        with self.assertRaises(AccessError):
            self.env["salesjet.special.offer"].with_user(stranger).search([])

    def test_offers_of_another_company_are_hidden(self):
        other = self.env["res.company"].create({"name": "SJ Other Products Co"})
        flow = self.make_flow([self.offer_step()], company_id=other.id)
        partner = self.customers()
        self.run_flow(flow, partner)
        offer = self.Offer.search([("partner_id", "=", partner.id)])
        self.assertEqual(offer.company_id, other)
        self.assertEqual(offer.pricelist_id.company_id, other, "a personal pricelist per company")
        self.assertFalse(self.Offer.with_user(self.user_flows).search([("partner_id", "=", partner.id)]))
        # the offer changes the price in that company only
        with self.at(T0 + timedelta(hours=1)):
            self.assertEqual(self.price(partner, self.course), 90.0)
            other_pricelist = partner.with_company(other).property_product_pricelist
            self.assertEqual(other_pricelist._get_product_price(self.course, 1.0), 60.0)
