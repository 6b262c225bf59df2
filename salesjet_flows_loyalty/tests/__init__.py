from . import test_loyalty_scenarios
