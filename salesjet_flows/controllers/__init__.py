from . import chain
