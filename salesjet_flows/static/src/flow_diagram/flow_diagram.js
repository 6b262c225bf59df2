import { Component, useRef, useState } from "@odoo/owl";
import { ConfirmationDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { useSortable } from "@web/core/utils/sortable_owl";
import { standardFieldProps } from "@web/views/fields/standard_field_props";
import { FormViewDialog } from "@web/views/view_dialogs/form_view_dialog";
import { ActionPicker } from "./action_picker";
import { StepCard } from "./step_card";

// beyond this many steps the cards are one line each; beyond WINDOW, the rest is drawn on demand
export const COMPACT_FROM = 30;
export const WINDOW = 60;

/**
 * The flow canvas: the flow's triggers at the top (each opens, "+" adds one), then
 * its steps in order with the timing on the edge leading to each, splits as
 * side-by-side branches, and a "+" on every edge that opens the action picker and
 * then the new step's form, already at its place. Steps are dragged to reorder
 * (or moved with their arrow buttons), removed through the safe-edit guard, and
 * every number on a card opens the jobs or contacts it counts. Data comes from
 * salesjet.flow diagram_data; every change reloads the form's record.
 */
export class FlowDiagram extends Component {
    static template = "salesjet_flows.FlowDiagram";
    static components = { StepCard };
    static props = { ...standardFieldProps };

    setup() {
        this.action = useService("action");
        this.dialog = useService("dialog");
        this.orm = useService("orm");
        this.notification = useService("notification");
        this.state = useState({ limit: WINDOW });
        this.rootRef = useRef("root");
        useSortable({
            ref: this.rootRef,
            enable: () => this.editable,
            elements: ".o_sj_step_wrap",
            groups: ".o_sj_chain",
            connectGroups: true,
            handle: ".o_sj_drag",
            cursor: "grabbing",
            placeholderClasses: ["o_sj_drop_here"],
            onDrop: (params) => this.onDrop(params),
        });
    }

    // ---- data ----
    get data() {
        return this.props.record.data[this.props.name] || { triggers: [], steps: [] };
    }

    get editable() {
        return Boolean(this.data.editable);
    }

    get compact() {
        return this.data.steps.length > COMPACT_FROM;
    }

    get isEmpty() {
        return !this.data.triggers.length && !this.data.steps.length;
    }

    /** Steps of the main chain, with their number in the flow. */
    get mainSteps() {
        return this.data.steps.filter((step) => !step.branch_id);
    }

    get visibleMainSteps() {
        return this.mainSteps.slice(0, this.state.limit);
    }

    get hiddenCount() {
        return Math.max(0, this.mainSteps.length - this.state.limit);
    }

    branchSteps(branch) {
        return this.data.steps.filter((step) => step.branch_id === branch.id);
    }

    stepNumber(step) {
        return this.data.steps.indexOf(step) + 1;
    }

    get showMoreLabel() {
        return _t("Show %s more steps", this.hiddenCount);
    }

    addEndLabel(branch) {
        return branch ? _t("Add a step at the end of branch %s", branch.name) : _t("Add a step at the end");
    }

    showMore() {
        this.state.limit += WINDOW;
    }

    // ---- the flow record ----
    /** Save the flow (a new one gets its id) before anything is added to it. */
    async ensureSaved() {
        const record = this.props.record;
        if (record.resId && !(await record.isDirty())) {
            return true;
        }
        return await record.save();
    }

    async reload() {
        await this.props.record.load();
    }

    // ---- adding ----
    async openPicker({ after = false, branch = false } = {}) {
        if (!this.families) {
            this.families = await this.orm.call("salesjet.flow.step", "canvas_action_picker", []);
        }
        this.dialog.add(ActionPicker, {
            families: this.families,
            title: branch ? _t("Add a step to branch %s", branch.name) : _t("Add a step"),
            onSelect: (type, label) => this.addStep({ type, label, after, branch }),
        });
    }

    async addStep({ type, label, after = false, branch = false }) {
        if (!(await this.ensureSaved())) {
            return;
        }
        const flowId = this.props.record.resId;
        const sequence = await this.orm.call("salesjet.flow.step", "canvas_insert_sequence", [
            flowId,
            after || false,
            branch ? branch.id : false,
        ]);
        const context = {
            default_flow_id: flowId,
            default_action_type: type,
            default_sequence: sequence,
        };
        if (branch) {
            context.default_branch_id = branch.id;
        }
        if (type === "split") {
            // a split starts with two even branches, to rename or reshare in its form
            context.default_branch_ids = [
                [0, 0, { name: "A", percentage: 50, sequence: 1 }],
                [0, 0, { name: "B", percentage: 50, sequence: 2 }],
            ];
        }
        this.dialog.add(FormViewDialog, {
            resModel: "salesjet.flow.step",
            context,
            title: _t("New step: %s", label),
            onRecordSaved: () => this.reload(),
        });
    }

    async addTrigger() {
        if (!(await this.ensureSaved())) {
            return;
        }
        const record = this.props.record;
        const context = { default_flow_id: record.resId };
        if (record.data.suggested_trigger_type) {
            context.default_trigger_type = record.data.suggested_trigger_type;
        }
        this.dialog.add(FormViewDialog, {
            resModel: "salesjet.flow.trigger",
            context,
            title: _t("New trigger"),
            onRecordSaved: () => this.reload(),
        });
    }

    async openTrigger(trigger) {
        if (!trigger.id || !(await this.ensureSaved())) {
            return;
        }
        this.dialog.add(FormViewDialog, {
            resModel: "salesjet.flow.trigger",
            resId: trigger.id,
            title: _t("Flow trigger"),
            onRecordSaved: () => this.reload(),
        });
    }

    // ---- a step ----
    async openStep(step) {
        const record = this.props.record;
        if (!step.id || (await record.isDirty())) {
            // a new step gets its id on save: it is the one at the same rank among the steps that had none
            // (ids are given in the order the steps were added, which is their order among equal sequences)
            const known = new Set(this.data.steps.filter((s) => s.id).map((s) => s.id));
            const rank = this.data.steps.filter((s) => !s.id).indexOf(step);
            if (!(await record.save())) {
                return;
            }
            if (!step.id) {
                const created = this.data.steps.filter((s) => s.id && !known.has(s.id));
                step = created[rank] || step;
            }
        }
        if (!step.id) {
            return;
        }
        this.dialog.add(FormViewDialog, {
            resModel: "salesjet.flow.step",
            resId: step.id,
            title: step.title,
            preventEdit: !this.editable,
            onRecordSaved: () => this.reload(),
        });
    }

    removeStep(step) {
        this.dialog.add(ConfirmationDialog, {
            title: _t("Remove this step"),
            body: _t(
                "Remove step “%s”? If contacts wait on it, you choose next what happens to them.",
                step.title
            ),
            confirmLabel: _t("Yes, remove"),
            confirm: async () => {
                if (!(await this.ensureSaved())) {
                    return;
                }
                const action = await this.orm.call("salesjet.flow.step", "action_canvas_remove", [
                    [step.id],
                ]);
                if (action) {
                    await this.action.doAction(action, { onClose: () => this.reload() });
                } else {
                    await this.reload();
                }
            },
            cancel: () => {},
        });
    }

    /** Keyboard move: one place up or down within the step's chain. */
    async moveStep(step, offset) {
        const chain = this.data.steps.filter((s) => s.branch_id === step.branch_id);
        const target = chain[chain.indexOf(step) + offset];
        if (!target || !(await this.ensureSaved())) {
            return;
        }
        await this.orm.call("salesjet.flow.step", "canvas_move", [step.id, target.id, offset > 0]);
        await this.reload();
    }

    async onDrop({ element, previous, next }) {
        const stepId = parseInt(element.dataset.stepId);
        const after = previous && parseInt(previous.dataset.stepId);
        const before = next && parseInt(next.dataset.stepId);
        if (stepId && (after || before) && (await this.ensureSaved())) {
            await this.orm.call("salesjet.flow.step", "canvas_move", [
                stepId,
                after || before,
                Boolean(after),
            ]);
        }
        await this.reload();
    }

    async openJobs(step, state) {
        const action = await this.orm.call("salesjet.flow.step", "action_open_jobs", [[step.id], state]);
        await this.action.doAction(action);
    }

    async openContacts(step, kind) {
        const action = await this.orm.call("salesjet.flow.step", "action_open_contacts", [
            [step.id],
            kind,
        ]);
        await this.action.doAction(action);
    }
}

export const flowDiagram = {
    component: FlowDiagram,
    supportedTypes: ["json"],
};

registry.category("fields").add("salesjet_flow_diagram", flowDiagram);
