import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";

/**
 * One step of the flow canvas: its number, icon and title (a button that opens
 * it), its conditions and repeat, and its figures, each a button that opens the
 * jobs (waiting, done, skipped, failed) or, for messages, the contacts (sent,
 * opened, clicked) it counts. Editors also get a drag handle, arrows to move it
 * with the keyboard and a remove button.
 */
export class StepCard extends Component {
    static template = "salesjet_flows.StepCard";
    static props = {
        step: Object,
        number: Number,
        compact: { type: Boolean, optional: true },
        editable: { type: Boolean, optional: true },
        first: { type: Boolean, optional: true },
        last: { type: Boolean, optional: true },
        onOpen: Function,
        onOpenJobs: Function,
        onOpenContacts: Function,
        onRemove: { type: Function, optional: true },
        onMove: { type: Function, optional: true },
    };

    /** A click on the card opens the step, as its title button does (the other buttons do their own). */
    onCardClick(ev) {
        if (!ev.target.closest("button, .o_sj_drag")) {
            this.props.onOpen();
        }
    }

    get title() {
        return this.props.step.card_title || this.props.step.title;
    }

    /** The job figures, each with what its button says to a screen reader. */
    get jobFigures() {
        const counts = this.props.step.counts || {};
        return [
            { state: "pending", label: _t("Waiting"), icon: "fa-clock-o", css: "text-bg-info" },
            { state: "done", label: _t("Done"), icon: "fa-check", css: "text-bg-success" },
            { state: "skipped", label: _t("Skipped"), icon: "fa-share", css: "text-bg-light" },
            { state: "failed", label: _t("Failed"), icon: "fa-exclamation-triangle", css: "text-bg-danger" },
        ].map((figure) => ({
            ...figure,
            value: counts[figure.state] || 0,
            aria: _t("%(figure)s: %(count)s, show these jobs", {
                figure: figure.label,
                count: counts[figure.state] || 0,
            }),
        }));
    }

    /** Sent, opened and clicked of a message step, with their rates; none for other steps. */
    get messageFigures() {
        const stats = this.props.step.stats;
        if (!stats) {
            return [];
        }
        const figures = [{ kind: "sent", label: _t("Sent to"), icon: "fa-paper-plane", value: stats.sent }];
        if (stats.opened !== null && stats.opened !== undefined) {
            figures.push({
                kind: "opened",
                label: _t("Opened by"),
                icon: "fa-envelope-open-o",
                value: stats.opened,
                rate: stats.opened_rate,
            });
        }
        figures.push({
            kind: "clicked",
            label: _t("Clicked by"),
            icon: "fa-mouse-pointer",
            value: stats.clicked,
            rate: stats.clicked_rate,
        });
        return figures.map((figure) => ({
            ...figure,
            aria: _t("%(figure)s: %(count)s, show these contacts", {
                figure: figure.label,
                count: figure.value,
            }),
        }));
    }
}
