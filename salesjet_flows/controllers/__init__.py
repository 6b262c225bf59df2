from . import chain
from . import common
from . import website_form
from . import website_pages
from . import facebook
from . import api
from . import mailing
