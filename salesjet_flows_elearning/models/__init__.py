from . import salesjet_event
from . import salesjet_flow_trigger
from . import salesjet_flow_step
from . import salesjet_flow_condition
from . import slide_channel
from . import slide_channel_partner
from . import slide_slide_partner
