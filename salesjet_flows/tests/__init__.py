from . import test_engine
from . import test_dispatch
from . import test_conditions
from . import test_concurrency
from . import test_security
from . import test_action_email
from . import test_action_sms
from . import test_action_contact
