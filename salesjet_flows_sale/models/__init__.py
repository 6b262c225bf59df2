from . import salesjet_event
from . import salesjet_flow_trigger
from . import salesjet_flow_condition
from . import sale_order
