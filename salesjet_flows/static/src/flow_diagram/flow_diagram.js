import { Component } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

/**
 * Draws a flow: its triggers, then each step in order with the timing on the
 * arrow leading to it, its conditions, its repeat and live counts of its jobs.
 * Clicking a step opens it. Flows of many steps switch to a compact layout.
 */
export class FlowDiagram extends Component {
    static template = "salesjet_flows.FlowDiagram";
    static props = { ...standardFieldProps };

    setup() {
        this.action = useService("action");
    }

    get data() {
        return this.props.record.data[this.props.name] || { triggers: [], steps: [] };
    }

    get compact() {
        return this.data.steps.length > 30;
    }

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
        await this.action.doAction(
            {
                type: "ir.actions.act_window",
                res_model: "salesjet.flow.step",
                res_id: step.id,
                views: [[false, "form"]],
                target: "new",
            },
            { onClose: () => record.load() }
        );
    }
}

export const flowDiagram = {
    component: FlowDiagram,
    supportedTypes: ["json"],
};

registry.category("fields").add("salesjet_flow_diagram", flowDiagram);
