from . import salesjet_flow_launch
from . import salesjet_step_test
from . import salesjet_flow_import
from . import salesjet_call_test
from . import salesjet_flow_test_run
from . import salesjet_flow_test_run_line
from . import salesjet_flow_step_remove
from . import salesjet_flow_stop
