from odoo import api, models


class SalesjetEngineCacheMixin(models.AbstractModel):
    """Records the engine keeps in ormcaches (triggers, funnels and their pages): any change clears them.

    Dispatching an event reads its triggers from a cache (see
    ``salesjet.flow.trigger._cached_triggers``); creating, changing or deleting
    one of these records must be seen by every worker at once.
    """
    _name = "salesjet.engine.cache.mixin"
    _description = "Clears the engine caches when changed"

    @api.model_create_multi
    def create(self, vals_list):
        self.env.registry.clear_cache()
        return super().create(vals_list)

    def write(self, vals):
        self.env.registry.clear_cache()
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()
