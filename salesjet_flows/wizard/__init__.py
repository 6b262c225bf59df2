from . import salesjet_flow_launch
