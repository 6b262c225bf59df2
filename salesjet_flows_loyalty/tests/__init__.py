from . import test_loyalty_scenarios
from . import test_consent_loyalty
from . import test_rights_loyalty
from . import test_seed_scenarios
from . import test_offer_coupon
