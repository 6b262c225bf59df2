from . import test_loyalty_sale_purchase
