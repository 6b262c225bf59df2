from . import test_course_triggers
from . import test_course_action_conditions
from . import test_course_template
