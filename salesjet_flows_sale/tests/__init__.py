from . import test_shop_triggers
from . import test_purchased_product_condition
from . import test_cart_template
from . import test_has_product_condition
