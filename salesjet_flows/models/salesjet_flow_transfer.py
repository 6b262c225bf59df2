import json
import uuid

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from .salesjet_flow_step_split import _rebuild_splits, _split_layout

FORMAT = "salesjet_flows"

VERSION = 1

# Never exported: links to the parent, the owner and the company (the importing
# user and company take them), bookkeeping and technical links.
SKIPPED_FIELDS = {
    "id", "create_uid", "create_date", "write_uid", "write_date", "flow_id", "step_id",
    "company_id", "user_id", "color",
}

# Secrets never leave the database through an export, nor through a version's
# snapshot (an export too, readable by Flows users): webhook headers carry
# bearer tokens, and the signing secret is the flow's own. An imported webhook
# step gets its headers set again by an administrator.
SECRET_FIELDS = {
    ("salesjet.flow", "webhook_secret"),
    ("salesjet.flow.step", "webhook_headers"),
}

# Child lists exported inside their parent, in order (modules add theirs with
# ``salesjet.flow.transfer._transfer_children()``).
CHILDREN = {
    "salesjet.flow": ["trigger_ids", "step_ids"],
    "salesjet.flow.step": ["condition_ids"],
}

# Children the importer creates itself, in its own order; any other child list is created generically.
BUILTIN_CHILDREN = {("salesjet.flow", "trigger_ids"), ("salesjet.flow", "step_ids"),
                    ("salesjet.flow.step", "condition_ids")}


class _Exporter:
    def __init__(self, transfer, flows):
        self.env = transfer.env
        self.transfer = transfer
        self.children = transfer._transfer_children()
        self.embeddable = transfer._embedded_fields()
        self.embedded = {}
        # references inside the export itself (a condition on a step's email,
        # a follow-up flow of the same export) point to positions, not ids
        self.flow_index = {flow.id: i for i, flow in enumerate(flows)}
        self.step_index = {
            step.id: [i, j] for i, flow in enumerate(flows) for j, step in enumerate(self.exported_steps(flow))
        }

    def exported_steps(self, flow):
        steps = flow.with_context(active_test=False).step_ids
        return steps.filtered(lambda step: not self.transfer._transfer_skip(step))

    def record(self, record, inverse=None):
        vals = {}
        children = self.children.get(record._name, [])
        for name, field in record._fields.items():
            if name in SKIPPED_FIELDS or name == inverse or not field.store or field.related or field.type == "binary":
                continue
            if (record._name, name) in SECRET_FIELDS:
                continue
            if field.type == "one2many":
                if name in children:
                    vals[name] = [self.record(child, field.inverse_name)
                                  for child in record.with_context(active_test=False)[name]
                                  if not self.transfer._transfer_skip(child)]
                continue
            if not field.copy:
                continue
            value = self.value(record, field)
            if value is None:
                continue
            vals[name] = value
        return vals

    def value(self, record, field):
        value = record[field.name]
        if field.type == "many2one":
            if not value or self.is_own_template(record, value):
                return None
            return self.ref(value)
        if field.type == "many2many":
            return [self.ref(item) for item in value] or None
        if field.type == "boolean":
            return bool(value)
        if field.type in ("integer", "float", "monetary"):
            return value
        if not value:
            return None
        if field.type in ("date", "datetime"):
            return fields.Datetime.to_string(value) if field.type == "datetime" else fields.Date.to_string(value)
        return value

    @staticmethod
    def is_own_template(record, value):
        # an email written in the step is saved as the step's own template: the
        # step's subject and body carry it, and the imported step makes its own
        return (value._name == "mail.template" and "salesjet_step_id" in value._fields
                and value.salesjet_step_id == record)

    def ref(self, record):
        if record._name == "salesjet.flow" and record.id in self.flow_index:
            return {"$flow": self.flow_index[record.id]}
        if record._name == "salesjet.flow.step" and record.id in self.step_index:
            return {"$step": self.step_index[record.id]}
        if record._name == "ir.model.fields":
            return {"$field": [record.model, record.name]}
        if record._name == "ir.model":
            return {"$model": record.model}
        xmlid = self.xmlid(record)
        fnames = self.embeddable.get(record._name)
        if fnames is not None and xmlid not in self.embedded:
            values = {fname: record[fname] for fname in fnames if fname in record._fields}
            if "model_id" in record._fields:
                values["$model"] = record.model_id.model
            self.embedded[xmlid] = {"model": record._name, "values": values}
        return {"$ref": xmlid, "model": record._name, "name": record.display_name}

    def xmlid(self, record):
        xmlid = record.sudo().get_external_id().get(record.id)
        if xmlid:
            return xmlid
        name = f"{record._table}_{record.id}_{uuid.uuid4().hex[:8]}"
        self.env["ir.model.data"].sudo().create({
            "module": "__export__", "name": name, "model": record._name, "res_id": record.id,
        })
        return f"__export__.{name}"


class _Importer:
    def __init__(self, transfer, payload):
        self.env = transfer.env
        self.children = transfer._transfer_children()
        self.flows_data = payload["flows"]
        self.embedded = payload.get("records") or {}
        if not isinstance(self.embedded, dict):
            raise UserError(_("This flow export is damaged: its records are not a mapping."))
        self.flows = []
        self.steps = {}
        self.missing = []
        self.pending_refs = []  # (record, field name, $flow/$step reference) resolved at the end

    def run(self):
        Flow = self.env["salesjet.flow"]
        for data in self.flows_data:
            # an imported flow (a file, a ready-made flow) starts as a draft: someone reads it before it runs
            vals = dict(self.values("salesjet.flow", data), state="draft")
            self.flows.append(Flow.create(vals))
        for i, (flow, data) in enumerate(zip(self.flows, self.flows_data, strict=True)):
            for trigger in data.get("trigger_ids", []):
                self.env["salesjet.flow.trigger"].create(
                    dict(self.values("salesjet.flow.trigger", trigger), flow_id=flow.id))
            for j, step_data in enumerate(data.get("step_ids", [])):
                vals = self.values("salesjet.flow.step", step_data)
                self.steps[(i, j)] = self.env["salesjet.flow.step"].create(dict(vals, flow_id=flow.id))
        # conditions last: they may refer to the email of any step of the export
        for i, data in enumerate(self.flows_data):
            for j, step_data in enumerate(data.get("step_ids", [])):
                for condition in step_data.get("condition_ids", []):
                    vals = self.values("salesjet.flow.condition", condition)
                    self.env["salesjet.flow.condition"].create(dict(vals, step_id=self.steps[(i, j)].id))
        # child lists added by other modules (e.g. a chain's messages), after the flow's own steps
        for flow, data in zip(self.flows, self.flows_data, strict=True):
            self.create_children(flow, data, builtin=True)
            for (i, j), step in self.steps.items():
                if step.flow_id == flow:
                    self.create_children(step, self.flows_data[i]["step_ids"][j], builtin=True)
        flows = self.env["salesjet.flow"].concat(*self.flows)
        for flow in flows:
            flow.message_post(body=_("Imported from a flow export."))
        return flows

    def create_children(self, parent, data, builtin=False):
        """Create the child lists of ``parent`` described in ``data`` (not those run() creates itself)."""
        for name in self.children.get(parent._name, []):
            if builtin and (parent._name, name) in BUILTIN_CHILDREN:
                continue
            field = parent._fields.get(name)
            if field is None or not data.get(name):
                continue
            for child_data in data[name]:
                vals = self.values(field.comodel_name, child_data)
                child = self.env[field.comodel_name].create(dict(vals, **{field.inverse_name: parent.id}))
                self.create_children(child, child_data)

    def values(self, model, data):
        if not isinstance(data, dict):
            raise ValueError(_("a %s is not described by a mapping", model))
        Model = self.env[model]
        vals = {}
        for name, value in data.items():
            field = Model._fields.get(name)
            if field is None or name in SKIPPED_FIELDS or field.type == "one2many" or (model, name) in SECRET_FIELDS:
                continue  # a field of a module this database lacks, a child list handled by run(), a secret
            if field.type == "many2one":
                vals[name] = self.resolve(value, field.comodel_name)
            elif field.type == "many2many":
                vals[name] = [(6, 0, [rid for rid in (self.resolve(v, field.comodel_name) for v in value) if rid])]
            elif field.type == "selection" and value not in dict(field._description_selection(self.env)):
                self.missing.append(_(
                    "%(field)s “%(value)s” (a module of the exporting database is not installed here)",
                    field=field.string, value=value))
            else:
                vals[name] = value
        if self.missing:
            raise UserError(_("This flow refers to records this database does not have; create them first:\n%s",
                              "\n".join(sorted(set(self.missing)))))
        return vals

    def resolve(self, ref, model):
        if not ref:
            return False
        if not isinstance(ref, dict):
            raise ValueError(_("unexpected reference %r", ref))
        if "$flow" in ref:
            return self.flows[ref["$flow"]].id
        if "$step" in ref:
            i, j = ref["$step"]
            step = self.steps.get((i, j))
            if not step:
                raise ValueError(_("a condition refers to a step that comes later"))
            return step.id
        if "$field" in ref:
            model_name, fname = ref["$field"]
            field = self.env["ir.model.fields"]._get(model_name, fname)
            if not field:
                self.missing.append(_("field %(field)s of %(model)s", field=fname, model=model_name))
            return field.id
        if "$model" in ref:
            return self.env["ir.model"]._get_id(ref["$model"])
        xmlid = ref["$ref"]
        record = self.env.ref(xmlid, raise_if_not_found=False)
        if record and record._name == model:
            return record.id
        embedded = self.embedded.get(xmlid)
        if embedded and embedded.get("model") == model:
            return self.create_embedded(xmlid, model, embedded["values"]).id
        self.missing.append(f"{ref.get('name') or xmlid} ({model}, {xmlid})")
        return False

    def create_embedded(self, xmlid, model, values):
        values = dict(values)
        model_name = values.pop("$model", None)
        if model_name:
            values["model_id"] = self.env["ir.model"]._get_id(model_name)
        Model = self.env[model]
        record = Model.create({k: v for k, v in values.items() if k in Model._fields})
        module, _dot, name = xmlid.partition(".")
        # only ids the export itself made up are recreated; a module's own ids belong to that module
        if module == "__export__":
            self.env["ir.model.data"].sudo().create(
                {"module": module, "name": name, "model": model, "res_id": record.id})
        return record


class SalesjetFlowTransfer(models.AbstractModel):
    """Export flows to JSON and import them, so that flows move between databases.

    A flow is written with its triggers, steps and their conditions. Records it
    refers to are written by external id (Odoo's ``__export__`` ids are created
    for records that have none). Small records a flow is useless without (tags,
    mailing lists, email and SMS templates) are also embedded, so that importing
    into another database recreates them when they are missing there. Fields of
    the contact (conditions) are referenced by model and name.
    """
    _name = "salesjet.flow.transfer"
    _description = "Flow Import and Export"

    @api.model
    def _transfer_children(self):
        """{model: [one2many field names]} exported inside their parent, in order.

        Bridge modules add their child lists (e.g. a chain's messages and their
        buttons); lists not created by the importer itself are created after the
        flow's steps, child by child, with the parent's link set.
        """
        children = {model: list(names) for model, names in CHILDREN.items()}
        # message chains travel with their messages and buttons
        children.setdefault("salesjet.flow", []).append("chain_message_ids")
        children.setdefault("salesjet.chain.message", []).append("button_ids")
        return children

    @api.model
    def _transfer_skip(self, record):
        """Whether a child record is left out of an export (e.g. a step generated by another child).

        The steps that chain messages generate do not travel: importing the messages generates them again.
        """
        return record._name == "salesjet.flow.step" and bool(record.chain_message_id)

    @api.model
    def _embedded_fields(self):
        """Models embedded in an export, with the fields that recreate a record.

        Bridge modules extend this for their own small configuration records.
        """
        return {
            "res.partner.category": ["name", "color"],
            "mailing.list": ["name", "is_public"],
            "mail.template": ["name", "subject", "body_html", "email_from", "email_to", "partner_to",
                              "reply_to", "auto_delete"],
            "sms.template": ["name", "body"],
        }

    # ------------------------------------------------------------------
    # Export
    # ------------------------------------------------------------------

    @api.model
    def export_flows(self, flows):
        """Return a JSON-serialisable dict describing ``flows``.

        Splits travel with their branches: ``$branches`` on a split step, ``$branch`` (split position,
        branch position) on the steps inside a branch.
        """
        exporter = _Exporter(self, flows)
        payload = {
            "format": FORMAT,
            "version": VERSION,
            "flows": [exporter.record(flow) for flow in flows],
            "records": exporter.embedded,
        }
        for flow, data in zip(flows, payload["flows"], strict=True):
            splits, members = _split_layout(flow)
            for j, step_data in enumerate(data.get("step_ids", [])):
                if j in splits:
                    step_data["$branches"] = splits[j]
                if j in members:
                    step_data["$branch"] = list(members[j])
        return payload

    # ------------------------------------------------------------------
    # Import
    # ------------------------------------------------------------------

    @api.model
    def import_flows(self, payload):
        """Create the flows of an export (see ``_import_payload``), then their A/B splits' branches."""
        flows = self.with_context(salesjet_split_rebuild=True)._import_payload(payload)
        data = payload if isinstance(payload, dict) else json.loads(payload)
        for flow, flow_data in zip(flows, data.get("flows", []), strict=True):
            steps_data = flow_data.get("step_ids", [])
            splits = {j: s["$branches"] for j, s in enumerate(steps_data) if s.get("$branches")}
            members = {j: tuple(s["$branch"]) for j, s in enumerate(steps_data) if s.get("$branch")}
            _rebuild_splits(flow.with_context(salesjet_split_rebuild=False), splits, members)
        return flows.with_context(salesjet_split_rebuild=False)

    @api.model
    def _import_payload(self, payload):
        """Create the flows described by ``payload`` (a dict or a JSON string) and return them.

        Raises a UserError naming what is wrong or missing; nothing is created then.
        """
        if isinstance(payload, bytes | str):
            try:
                payload = json.loads(payload)
            except ValueError as e:
                raise UserError(_("This file is not a flow export: it is not valid JSON (%s).", e)) from e
        if (not isinstance(payload, dict) or payload.get("format") != FORMAT
                or not isinstance(payload.get("flows"), list)):
            raise UserError(_("This file is not a SalesJet Flows export."))
        if payload.get("version") != VERSION:
            raise UserError(_("This export has version %(found)s; this database reads version %(version)s.",
                              found=payload.get("version"), version=VERSION))
        importer = _Importer(self, payload)
        try:
            with self.env.cr.savepoint():
                return importer.run()
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise UserError(_("This flow export is damaged and was not imported: %s", e)) from e
        except ValidationError as e:
            raise UserError(_("The flow in this file cannot be created here: %s", e.args[0])) from e
