import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

const BAR = 5; // width of a day's bar in the chart, gap included
const HEIGHT = 28;

/**
 * The flow's statistics tab: a funnel (the runs that reached each step, out of all runs) and, per step, a
 * chart of the last 30 days (jobs ended per UTC day: done, skipped, failed). Reads the flow's
 * ``statistics_data``, computed from the step counters, never from the job table.
 */
export class FlowStatistics extends Component {
    static template = "salesjet_flows.FlowStatistics";
    static props = { ...standardFieldProps };

    get data() {
        return this.props.record.data[this.props.name] || { days: [], steps: [], runs: 0 };
    }

    get chartWidth() {
        return this.data.days.length * BAR;
    }

    get chartHeight() {
        return HEIGHT;
    }

    share(step) {
        return this.data.runs ? Math.min(100, (100 * step.entered) / this.data.runs) : 0;
    }

    shareText(step) {
        return `${this.share(step).toFixed(1)} %`;
    }

    /** One stacked bar per day: [{x, title, parts: [{y, height, kind}]}], scaled to the step's busiest day. */
    bars(step) {
        const totals = step.daily.done.map((done, i) => done + step.daily.skipped[i] + step.daily.failed[i]);
        const top = Math.max(1, ...totals);
        return this.data.days.map((day, i) => {
            let y = HEIGHT;
            const parts = [];
            for (const kind of ["done", "skipped", "failed"]) {
                const height = (HEIGHT * step.daily[kind][i]) / top;
                if (height > 0) {
                    y -= height;
                    parts.push({ kind, y, height });
                }
            }
            const title = _t("%(day)s: %(entered)s reached, %(done)s done, %(skipped)s skipped, %(failed)s failed", {
                day,
                entered: step.daily.entered[i],
                done: step.daily.done[i],
                skipped: step.daily.skipped[i],
                failed: step.daily.failed[i],
            });
            return { x: i * BAR, title, parts };
        });
    }
}

export const flowStatistics = {
    component: FlowStatistics,
    supportedTypes: ["json"],
};

registry.category("fields").add("salesjet_flow_statistics", flowStatistics);
