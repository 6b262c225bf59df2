from . import salesjet_flow
from . import salesjet_flow_trigger
from . import salesjet_flow_condition
from . import salesjet_flow_step
from . import salesjet_flow_enrollment
from . import salesjet_flow_job
from . import salesjet_event
from . import res_config_settings
