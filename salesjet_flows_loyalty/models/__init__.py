from . import res_partner
from . import salesjet_loyalty_accrual
from . import salesjet_flow_step_loyalty
from . import salesjet_flow_trigger_loyalty
from . import salesjet_chain_message
from . import loyalty_history
from . import res_users
from . import salesjet_loyalty_log
